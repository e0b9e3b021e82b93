"""Live mode for a long time: memory, threads and the recording, checked frame by frame.

Runs exactly what a user runs — ``livebg webcam --camera CLIP --loop --no-window --record OUT`` with a
solid green background — for ``--minutes`` (default 10), the clip played as the camera at its own
rate. Every ``--interval`` seconds it samples the process's resident memory and thread count from
``/proc``. At the end it checks the recording frame by frame: every frame decodes, has the camera's
size, timestamps rise strictly, the count matches what livebg said it recorded, and every frame shows
a person over the background (the share of background-green pixels stays between 5% and 95%).

    python benchmarks/soak.py --weights ../shared/models/rvm_mobilenetv3_tfjs.pth \
        --clip ../shared/data/woman_indoor_plants_720p.mp4 --minutes 10

Linux only (it reads ``/proc``).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from livebg.machine import cpu_summary

HERE = Path(__file__).resolve().parent
DEFAULT_CLIP = HERE.parent.parent / "shared" / "data" / "woman_indoor_plants_720p.mp4"
GREEN = np.array([0, 177, 64])


@dataclass
class Sample:
    seconds: float
    rss_mb: float
    threads: int


def sample(pid: int, start: float) -> Sample | None:
    """Resident memory (MB) and thread count of ``pid`` now; ``None`` once it has exited."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    rss_kb = int(fields["VmRSS"].split()[0])
    return Sample(time.monotonic() - start, rss_kb / 1024, int(fields["Threads"]))


def check_recording(path: Path, expected_frames: int | None) -> list[str]:
    """Problems found in the recording, frame by frame (empty: none)."""
    problems: list[str] = []
    previous_pts = None
    frames = 0
    shares = []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        size = (stream.codec_context.width, stream.codec_context.height)
        for frame in container.decode(stream):
            if (frame.width, frame.height) != size:
                problems.append(f"frame {frames} is {frame.width}x{frame.height}, not {size[0]}x{size[1]}")
            if previous_pts is not None and frame.pts <= previous_pts:
                problems.append(f"frame {frames}: timestamp {frame.pts} after {previous_pts}")
            previous_pts = frame.pts
            # A quarter of the size is plenty to tell a person from the background, and 16x faster.
            rgb = frame.to_ndarray(
                format="rgb24", width=max(1, frame.width // 4), height=max(1, frame.height // 4)
            )
            share = float((np.abs(rgb.astype(int) - GREEN).max(axis=-1) < 40).mean())
            shares.append(share)
            if not 0.05 < share < 0.95:
                problems.append(f"frame {frames}: {share:.0%} background, no person over it")
            frames += 1
    if expected_frames is not None and frames != expected_frames:
        problems.append(f"{frames} frames decoded, livebg said it recorded {expected_frames}")
    print(
        f"recording: {frames} frames, {size[0]}x{size[1]}, background share per frame "
        f"{min(shares):.0%}-{max(shares):.0%}"
    )
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clip", type=Path, default=DEFAULT_CLIP, help="video played as the camera (looped)")
    parser.add_argument("--weights", type=Path, help="RVM checkpoint (default: the cached one)")
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--interval", type=float, default=10.0, help="seconds between samples")
    parser.add_argument("extra", nargs="*", help="more `livebg webcam` options, after --")
    args = parser.parse_args()
    print(f"cpu: {cpu_summary()}", flush=True)

    with tempfile.TemporaryDirectory() as folder:
        record = Path(folder) / "soak.mp4"
        log = Path(folder) / "livebg.log"
        command = [sys.executable, "-m", "livebg", "webcam", "--camera", str(args.clip), "--loop"]
        command += ["--no-window", "-b", "#00b140", "--record", str(record)]
        command += ["--duration", f"{args.minutes * 60:g}", *args.extra]
        if args.weights:
            command += ["--weights", str(args.weights)]
        print("running:", " ".join(command[2:]), flush=True)
        start = time.monotonic()
        with log.open("wb") as messages:
            process = subprocess.Popen(command, stdout=messages, stderr=subprocess.STDOUT)
        samples: list[Sample] = []
        print(f"{'min':>6} {'RSS MB':>8} {'threads':>8}")
        while process.poll() is None:
            now = sample(process.pid, start)
            if now is not None:
                samples.append(now)
                print(f"{now.seconds / 60:>6.1f} {now.rss_mb:>8.0f} {now.threads:>8}", flush=True)
            time.sleep(args.interval)
        text = log.read_text(errors="replace")
        print(text.strip())
        if process.returncode != 0:
            print(f"livebg exited with {process.returncode}")
            return 1
        recorded = re.search(r"recorded (\d+) frames", text)
        problems = check_recording(record, int(recorded.group(1)) if recorded else None)

    # Memory is judged once start-up is over (the first minute, or the first half of a short run) and
    # before shutdown starts freeing it (the last sample).
    total = samples[-1].seconds
    settled = [s for s in samples[:-1] if s.seconds >= min(60.0, total / 2)] or samples
    rss = np.array([s.rss_mb for s in settled])
    slope = np.polyfit([s.seconds / 60 for s in settled], rss, 1)[0] if len(settled) > 1 else 0.0
    threads = [s.threads for s in samples]
    print(
        f"RSS once started {rss[0]:.0f} MB, at the end {rss[-1]:.0f} MB, max {rss.max():.0f} MB, "
        f"trend {slope:+.1f} MB/min; threads {min(threads)}-{max(threads)}"
    )
    for problem in problems[:20]:
        print("problem:", problem)
    print("recording OK" if not problems else f"{len(problems)} problems in the recording")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
