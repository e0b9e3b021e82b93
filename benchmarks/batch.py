"""Batch work: clips per minute three ways, and the warm-up a chunk needs (``livebg.batch.chunks``).

1. Throughput: ``--clips`` short clips (``--frames`` frames each, cut from the shared talking-head
   clips with ``livebg video --background none --start --frames``) processed (a) one ``livebg video``
   per clip, as before batches existed, (b) one ``livebg video FOLDER`` call, (c) the same call with
   ``--ray`` (a Ray started on this machine). Clips per minute of wall time, start-up included.
2. Chunk warm-up: RVM carries state from frame to frame, so a chunk that starts cold differs from the
   uncut run for its first frames. For each shared clip, the alpha of a chunk starting at frame
   ``--join`` after W warm-up frames (a fresh stream fed frames join-W .. join-1 first, exactly what a
   chunk does) is compared, frame by frame, with the uncut run's, for W in ``--warmups``: the mean
   absolute difference and its 99.9th percentile over the pixels, in 1/255, at the join and averaged
   over the ``--after`` frames from the join on.

    python benchmarks/batch.py --weights ../shared/models/rvm_mobilenetv3_tfjs.pth --data ../shared/data
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from livebg.api import Matter
from livebg.machine import cpu_summary
from livebg.sources.video_file import VideoFileSource

CLIPS = (
    "talking_head_man_plain_wall_480.mp4",
    "webcam_desk_man_wavy_hair_512.mp4",
    "talking_head_woman_long_hair_512.mp4",
    "greenscreen_man_face_512.mp4",
)


def livebg(*args: str) -> float:
    """Runs ``livebg ARGS`` in a fresh process; returns its wall time in seconds."""
    began = time.perf_counter()
    command = [sys.executable, "-m", "livebg", *args]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - began


def make_clips(data: Path, count: int, frames: int, folder: Path) -> list[Path]:
    """``count`` clips of ``frames`` frames, cut from the shared clips in turn (later ones further in)."""
    folder.mkdir()
    clips = []
    for i in range(count):
        source = data / CLIPS[i % len(CLIPS)]
        start = str(i // len(CLIPS) * frames / 25)
        out = folder / f"clip{i:02d}.mp4"
        livebg("video", str(source), "-o", str(out), "-b", "none", "--start", start, "--frames", str(frames))
        clips.append(out)
    return clips


def throughput(args: argparse.Namespace, root: Path) -> None:
    clips = make_clips(args.data, args.clips, args.frames, root / "clips")
    model = ["--weights", str(args.weights), "--no-progress", "-b", "green"]
    ways = {"one livebg video per clip": 0.0, "one batch call": 0.0, "one batch call, --ray (local)": 0.0}
    (root / "single").mkdir()
    ways["one livebg video per clip"] = sum(
        livebg("video", str(clip), "-o", str(root / "single" / clip.name), *model) for clip in clips
    )
    ways["one batch call"] = livebg("video", str(root / "clips"), "-o", str(root / "batch"), *model)
    if importlib.util.find_spec("ray") is None:
        del ways["one batch call, --ray (local)"]
        print("(ray is not installed: pip install 'livebg[ray]' to measure --ray)")
    else:
        ways["one batch call, --ray (local)"] = livebg(
            "video", str(root / "clips"), "-o", str(root / "ray"), "--ray", *model
        )
    print(f"{len(clips)} clips of {args.frames} frames ({', '.join(CLIPS[: len(clips)])}, in turn)")
    for way, seconds in ways.items():
        print(f"  {way:<32} {seconds:7.1f} s   {60 * len(clips) / seconds:6.2f} clips/min")


def alphas(matter: Matter, frames: list[np.ndarray]) -> list[np.ndarray]:
    """The alpha of each frame of one stream, ``float32 (H, W)`` in 1/255."""
    stream = matter.stream()
    return [stream(frame).alpha * 255 for frame in frames]


def warmup_curve(args: argparse.Namespace) -> None:
    matter = Matter(weights=args.weights, backend=args.backend)
    warmups = sorted(args.warmups)
    # The join must lie beyond the longest warm-up, or that chunk would start at frame 0 (the uncut run).
    join, after = max(args.join, warmups[-1] + 1), args.after
    print(
        f"\n{matter.description}; chunk joined at frame {join}: |alpha - uncut alpha| in 1/255, "
        f"mean and 99.9th percentile over the pixels, at the join and averaged over {after} frames"
    )
    print(f"{'clip':<38} {'W':>3} {'mean@join':>10} {'p99.9@join':>11} {'mean':>8} {'p99.9':>8}")
    curve: dict[int, list[tuple[float, float, float, float]]] = {w: [] for w in warmups}
    for name in args.curve_clips:
        with VideoFileSource(args.data / name, with_audio=False) as source:
            frames = [item.rgb for _, item in zip(range(join + after), source, strict=False)]
        uncut = alphas(matter, frames)[join:]
        for w in warmups:
            chunk = alphas(matter, frames[join - w :])[w:]
            diffs = [np.abs(a - b) for a, b in zip(chunk, uncut, strict=True)]
            means = [float(d.mean()) for d in diffs]
            tails = [float(np.percentile(d, 99.9)) for d in diffs]
            row = (means[0], tails[0], float(np.mean(means)), float(np.mean(tails)))
            curve[w].append(row)
            print(f"{name:<38} {w:>3} {row[0]:>10.3f} {row[1]:>11.2f} {row[2]:>8.3f} {row[3]:>8.2f}")
    print(f"{'median over clips':<38}")
    for w in warmups:
        rows = np.array(curve[w])
        med = np.median(rows, axis=0)
        print(f"{'':<38} {w:>3} {med[0]:>10.3f} {med[1]:>11.2f} {med[2]:>8.3f} {med[3]:>8.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", type=Path, required=True)
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    parser.add_argument("--clips", type=int, default=8, help="clips for the throughput part (default: 8)")
    parser.add_argument("--frames", type=int, default=50, help="frames per clip (default: 50)")
    parser.add_argument("--backend", default="auto", help="backend for the warm-up curve (default: auto)")
    parser.add_argument("--warmups", type=int, nargs="+", default=[0, 5, 15, 30, 60])
    parser.add_argument("--join", type=int, default=90, help="frame where the chunk starts (default: 90)")
    parser.add_argument("--after", type=int, default=30, help="frames compared from the join on")
    parser.add_argument("--curve-clips", nargs="+", default=list(CLIPS[:3]), metavar="NAME")
    parser.add_argument("--skip-throughput", action="store_true")
    args = parser.parse_args()
    print(f"cpu: {cpu_summary()}", flush=True)
    if not args.skip_throughput:
        with tempfile.TemporaryDirectory() as tmp:
            throughput(args, Path(tmp))
    warmup_curve(args)


if __name__ == "__main__":
    main()
