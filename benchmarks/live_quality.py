"""The matte live mode delivers in real time, against ground truth, next to what fp32 at ratio 0.375
makes of every frame offline.

Each ground-truth clip (720p, 30 fps, known alpha; see ``groundtruth.py``) is played as the camera by
the user's own command, in a subprocess, with default settings (the frame rate held by the adaptive
ratio) and the matte recorded::

    python -m livebg webcam --camera CLIP --output-type alpha --record OUT --no-window [--extra-args]

**Alignment.** Live mode stamps the recording with each picture's capture time, 0 for the first, and
the clip plays as the camera at its real rate, so picture ``j`` (stamped ``t_j``) shows source frame
``k_0 + round(30 t_j)``: the frame the user was seen in at that moment, whichever frame the matte it
was cut out with came from (a matte a few frames old counts against it, as it would in a call). The
first picture waits for its own matte, so ``k_0`` is the first few source frames' best match to it
among those that leave the last stamp inside the clip; the notes say which, and how far the stamps
lie from the 1/30 s lattice.

Printed per clip: the frames delivered and dropped, fps, latency p50/p95 and the ratios used (from
live mode's summary line), the delivered mattes' MAD, Grad and dtSSD (dtSSD between consecutive
delivered frames against the true change between their source frames), the same for fp32 at ratio
0.375 (the fastest fp32 runtime, offline, every frame) on the same source frames, and the delivered
MAD relative to it (the target: within +15%). Units as in ``groundtruth.py``.

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


def align(first: np.ndarray, times: list[float], clip: gt.Clip) -> tuple[list[int], float]:
    """The source frame of each delivered picture (see the module docstring), from the ``first``
    picture's matte and the pictures' ``times``; and the largest distance of a stamp from the lattice,
    in frames."""
    lattice = np.asarray(times) * clip.fps
    first_alpha = gt.as_alpha(first)
    last = clip.length - 1 - round(lattice[-1])  # the stamps must fit in the clip
    start = min(
        range(max(1, min(4, last + 1))),
        key=lambda k: float(np.abs(first_alpha - gt.as_alpha(clip.truth(k))).mean()),
    )
    sources = [start + round(x) for x in lattice]
    return sources, float(np.abs(lattice - np.round(lattice)).max())


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
            sources, off = align(delivered.mattes[0], delivered.times, clip)
            offline = list(gt.clip_alphas(reference, clip))
            live, ref = gt.Scores(), gt.Scores()
            for matte, k in zip(delivered.mattes, sources, strict=True):
                true = gt.as_alpha(clip.truth(k))
                live.add(gt.as_alpha(matte), true)
                ref.add(gt.as_alpha(offline[k]), true)
            live_all.extend(live)
            ref_all.extend(ref)
            s, m, r = delivered.summary, live.means(), ref.means()
            notes.append(
                f"{clip.name}: source frames {sources[0]}-{sources[-1]} of {clip.length}; stamps within "
                f"{off:.2f} frames of the lattice"
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
    print("cores: CPU use of live mode; ratios: mattes made at each ratio")
    for note in notes:
        print(note)


def _relative(value: float, reference: float) -> str:
    return f"{100 * (value / reference - 1):+.0f}%"


if __name__ == "__main__":
    main()
