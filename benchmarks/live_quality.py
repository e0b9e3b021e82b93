"""The matte live mode delivers in real time, against ground truth, next to what fp32 at ratio 0.375
makes of every frame offline.

Each ground-truth clip (720p, 30 fps, known alpha; see ``groundtruth.py``) is played as the camera by
the user's own command, in a subprocess, with default settings (the frame rate held by the adaptive
ratio) and the matte recorded::

    python -m livebg webcam --camera CLIP --output-type alpha --record OUT --no-window [--extra-args]

**Alignment.** The recording holds the delivered mattes stamped with the moment each was output, 0 for
the first; which camera frame each one was computed from is not written anywhere (an index drawn into
the picture cannot survive: the output is the matte, not the picture). Output time = capture time +
latency, and the capture times lie on the clip's 1/30 s lattice, so frame j (output at ``t_j``) came
from source frame ``k_j`` with ``k_j - k_0 = 30 t_j - (latency_j - latency_0) * 30``. The latency
changes only gradually (it follows the ratio), so the frames are aligned by a monotone dynamic
programme over candidate ``k_j`` (source indices strictly increase: live mode never shows a frame
twice) that minimises the matte's distance to the candidate's true alpha plus a penalty on latency
jumps between consecutive frames. The latency it implies is printed (its spread should match the
log's p50/p95), as is how many frames the content moved off the pure-timing choice.

Printed per clip: the frames delivered and dropped, fps, latency p50/p95 and the ratios used (from
live mode's summary line), the delivered mattes' MAD, Grad and dtSSD (dtSSD between consecutive
delivered frames against the true change between their source frames), the same for fp32 at ratio
0.375 (the fastest fp32 runtime, offline, every frame) on the same source frames, and the delivered
MAD relative to it (the issue's target: within +15%). Units as in ``groundtruth.py``.

    python benchmarks/live_quality.py --weights ../shared/models/rvm_mobilenetv3_tfjs.pth
"""

from __future__ import annotations

import logging
import os
import re
import shlex
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import av
import cv2
import groundtruth as gt
import numpy as np

from livebg.config import ModelConfig

REPO = Path(__file__).resolve().parent.parent
SUMMARY = re.compile(
    r"live: (?P<frames>\d+) frames in (?P<seconds>[\d.]+) s \((?P<fps>[\d.]+) fps\), "
    r"(?P<dropped>\d+) dropped at capture, latency p50 (?P<p50>\w+) ms, p95 (?P<p95>\w+) ms"
    r"(?:, cpu (?P<cpu>[\d.]+) cores(?: of a budget of [\d.]+)?)?(?:, ratio (?P<ratios>.*))?"
)


@dataclass
class Delivered:
    """What one live run delivered: the recorded mattes (``uint8 (H, W)``) with their output times in
    seconds, and live mode's summary line."""

    mattes: list[np.ndarray]
    times: list[float]
    summary: dict[str, str]


def run_live(clip: gt.Clip, weights: Path | None, extra: list[str], folder: Path) -> Delivered:
    """``livebg webcam`` on ``clip`` as the camera, recording the matte; raises with its stderr on
    failure."""
    out = folder / f"{clip.name}_live.mp4"
    command = [sys.executable, "-m", "livebg", "webcam", "--camera", str(clip.path), "--output-type", "alpha"]
    command += ["--record", str(out), "--overwrite", "--no-window"]
    command += ["--weights", str(weights)] if weights else []
    command += extra
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    }
    done = subprocess.run(
        command, cwd=folder, env=env, capture_output=True, text=True, timeout=clip.length / clip.fps + 300
    )
    found = [m for line in done.stderr.splitlines() if (m := SUMMARY.match(line))]
    if done.returncode != 0 or not found:
        raise SystemExit(f"{shlex.join(command)} failed ({done.returncode}):\n{done.stderr}")
    mattes, times = [], []
    with av.open(str(out)) as container:
        for frame in container.decode(video=0):
            mattes.append(frame.to_ndarray(format="rgb24")[..., 1])  # grey: the channels are equal
            times.append(float(frame.time))
    return Delivered(mattes, times, found[-1].groupdict())


def align(
    mattes: list[np.ndarray], times: list[float], clip: gt.Clip, latency: float
) -> tuple[list[int], int]:
    """The source frame of each delivered matte (see the module docstring), and how many of them the
    content moved off the pure-timing choice. ``latency``: seconds, an upper bound of the run's
    latency (it bounds how far a frame's source may lie from its output time)."""
    shrink = 4  # the content term on 1/4-size pictures: enough to tell neighbouring frames apart

    def small(alpha: np.ndarray) -> np.ndarray:
        return cv2.resize(alpha, None, fx=1 / shrink, fy=1 / shrink, interpolation=cv2.INTER_AREA).astype(
            np.int16
        )

    truth = [small(clip.truth(k)) for k in range(clip.length)]
    lattice = np.asarray(times) * clip.fps
    # A jump of one frame in latency between two outputs costs the typical distance between
    # consecutive true alphas: content decides only where timing cannot.
    jump = float(np.median([np.abs(truth[k] - truth[k + 1]).mean() for k in range(clip.length - 1)]))
    reach = int(np.ceil(latency * clip.fps)) + 3
    candidates, costs, links = [], [], []
    for j, x in enumerate(lattice):
        ks = np.arange(max(0, round(x) - reach), min(clip.length, round(x) + reach + 1))
        picture = small(mattes[j])
        content = np.array([np.abs(picture - truth[k]).mean() for k in ks])
        if j == 0:
            cost, link = content, np.zeros(len(ks), int)
        else:
            before, x0 = candidates[-1], lattice[j - 1]
            # total[a, b]: coming from before[a] to ks[b]; a source frame never repeats or goes back.
            total = costs[-1][:, None] + jump * np.abs((x - ks)[None, :] - (x0 - before)[:, None])
            total[before[:, None] >= ks[None, :]] = np.inf
            link = total.argmin(axis=0)
            cost = total[link, np.arange(len(ks))] + content
        candidates.append(ks)
        costs.append(cost)
        links.append(link)
    index = int(np.argmin(costs[-1]))
    path = []
    for j in range(len(lattice) - 1, -1, -1):
        path.append(int(candidates[j][index]))
        index = int(links[j][index])
    path.reverse()
    # Pure timing: the lattice shifted by the median latency.
    offset = float(np.median(np.asarray(path) - lattice))
    moved = sum(k != round(x + offset) for k, x in zip(path, lattice, strict=True))
    return path, moved


def main() -> None:
    parser = gt.argument_parser(__doc__)
    parser.add_argument("--seconds", type=float, default=gt.SECONDS, help="length of each clip played")
    parser.add_argument(
        "--extra-args", default="", help="more livebg webcam arguments, quoted, e.g. '--precision bf16'"
    )
    parser.add_argument("--keep", type=Path, help="keep the recordings in this folder")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    weights = args.weights if args.weights.is_file() else None

    clips = gt.ground_truth_clips(args.clips.split(","), args.seconds)
    extra = shlex.split(args.extra_args)
    print(f"livebg webcam --output-type alpha --record ... {shlex.join(extra)}")
    print(f"clips of {args.seconds:g} s at {gt.FPS} fps, {gt.SIZE[1]}x{gt.SIZE[0]}")
    reference = gt.alpha_step(
        ModelConfig(weights=weights, device="cpu", precision="fp32", downsample_ratio=0.375)
    )
    header = [
        "clip",
        "frames",
        "dropped",
        "fps",
        "p50 ms",
        "p95 ms",
        "cores",
        "ratios",
        "MAD",
        "Grad",
        "dtSSD",
        "ref MAD",
        "ref Grad",
        "ref dtSSD",
        "MAD vs ref",
    ]
    rows: list[list[object]] = []
    notes: list[str] = []
    live_all, ref_all = gt.Scores(), gt.Scores()
    with tempfile.TemporaryDirectory(prefix="livebg-live-quality-") as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        for clip in clips:
            delivered = run_live(clip, weights, extra, folder)
            worst = max(float(delivered.summary[q]) for q in ("p50", "p95")) / 1000
            sources, moved = align(delivered.mattes, delivered.times, clip, latency=1.5 * worst)
            offline = list(gt.clip_alphas(reference, clip))
            live, ref = gt.Scores(), gt.Scores()
            for matte, k in zip(delivered.mattes, sources, strict=True):
                true = gt.as_alpha(clip.truth(k))
                live.add(gt.as_alpha(matte), true)
                ref.add(gt.as_alpha(offline[k]), true)
            live_all.extend(live)
            ref_all.extend(ref)
            s, m, r = delivered.summary, live.means(), ref.means()
            latency = np.asarray(delivered.times) * clip.fps - np.asarray(sources)
            latency -= latency[0]  # in frames, relative to the first frame's
            notes.append(
                f"{clip.name}: source frames {sources[0]}-{sources[-1]} of {clip.length}; latency "
                f"relative to the first frame {latency.min():+.1f} to {latency.max():+.1f} "
                f"frames; {moved} of {len(sources)} placed by content off the timing's choice"
            )
            rows.append(
                [
                    clip.name,
                    int(s["frames"]),
                    int(s["dropped"]),
                    float(s["fps"]),
                    float(s["p50"]),
                    float(s["p95"]),
                    float(s["cpu"] or "nan"),
                    s["ratios"] or "-",
                    m["MAD"],
                    m["Grad"],
                    m["dtSSD"],
                    r["MAD"],
                    r["Grad"],
                    r["dtSSD"],
                    _relative(m["MAD"], r["MAD"]),
                ]
            )
            print(f"  {clip.name} done", flush=True)
    m, r = live_all.means(), ref_all.means()
    nan = float("nan")
    rows.append(["all", *[nan] * 7, m["MAD"], m["Grad"], m["dtSSD"], r["MAD"], r["Grad"], r["dtSSD"]])
    rows[-1].append(_relative(m["MAD"], r["MAD"]))
    print()
    print(gt.format_table(header, rows))
    print("ref: fp32 at ratio 0.375, offline, on the same source frames; all: over every delivered frame")
    print("cores: CPU use of live mode; ratios: frames the network ran on at each ratio")
    for note in notes:
        print(note)


def _relative(value: float, reference: float) -> str:
    return f"{100 * (value / reference - 1):+.0f}%"


if __name__ == "__main__":
    main()
