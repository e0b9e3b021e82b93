"""Frame rate and capture-to-output latency of live mode, per configuration, measured in one run.

A real 720p clip plays as the camera at its own 30 fps (frames the pipeline cannot take in time are
dropped at capture, as with a camera); live mode runs headless (no window) and composites over a solid
colour. For each configuration the script prints the processed frame rate, the new mattes a second
(the model runs in a thread of its own, paced at every 4th frame), the latency percentiles and how
many camera frames were dropped. Each session is warmed up on one frame first, so graph
compilation does not count as latency.

    python benchmarks/live_latency.py --weights ../shared/models/rvm_mobilenetv3_tfjs.pth \
        --clip ../shared/data/woman_indoor_plants_720p.mp4
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np

from livebg.config import ModelConfig
from livebg.live import LiveConfig, LiveStats, run_live
from livebg.machine import cpu_summary
from livebg.matting.factory import create_session
from livebg.sources.camera import CaptureSettings
from livebg.tensors import to_tensor

HERE = Path(__file__).resolve().parent
DEFAULT_CLIP = HERE.parent.parent / "shared" / "data" / "woman_indoor_plants_720p.mp4"


def backends_to_measure(device: str) -> list[str]:
    """PyTorch, plus the fastest runtime ``--backend auto`` picks on this device when it differs."""
    try:
        from livebg.device import select_device
        from livebg.matting.backend import choose_backend
    except ImportError:
        return ["torch"]
    fastest = choose_backend("auto", select_device(device))
    return ["torch"] if fastest == "torch" else ["torch", fastest]


def measure(clip: Path, model: ModelConfig, seconds: float, background: str) -> LiveStats:
    session = create_session(model)
    # Warm-up: the first call compiles or allocates for this size; it is not what a user waits for.
    session(to_tensor(np.zeros((720, 1280, 3), np.uint8), session.device, session.dtype))
    session.reset()
    config = LiveConfig(
        capture=CaptureSettings(camera=str(clip)),
        background=background,
        model=model,
        window=False,
        duration=seconds,
    )
    return run_live(config, session=session)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clip", type=Path, default=DEFAULT_CLIP, help="video played as the camera")
    parser.add_argument("--weights", type=Path, help="RVM checkpoint (default: the cached one)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--ratios", default="0.375,0.25", help="comma-separated downsample ratios")
    parser.add_argument("--backends", help="comma-separated backends (default: torch and the fastest)")
    parser.add_argument("--precision", default="auto", help="precision for every backend (auto, bf16, ...)")
    parser.add_argument("--seconds", type=float, default=8.0, help="run time per configuration")
    parser.add_argument("--background", default="#00b140")
    args = parser.parse_args()
    print(f"cpu: {cpu_summary()}", flush=True)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")

    ratios = [float(r) for r in args.ratios.split(",")]
    backends = args.backends.split(",") if args.backends else backends_to_measure(args.device)
    print(f"camera: {args.clip.name} played in real time; {args.seconds:g} s per configuration")
    columns = ("backend", "ratio", "fps", "mattes/s", "p50 ms", "p95 ms", "max ms", "dropped/captured")
    header = "{:<12} {:>6} {:>6} {:>8} {:>7} {:>7} {:>7} {:>17}".format(*columns)
    print(header)
    print("-" * len(header))
    for backend in backends:
        for ratio in ratios:
            model = ModelConfig(
                weights=args.weights,
                device=args.device,
                downsample_ratio=ratio,
                backend=backend,
                precision=args.precision,
            )
            stats = measure(args.clip, model, args.seconds, args.background)
            latencies = np.array(stats.latencies) * 1000
            p50, p95 = np.percentile(latencies, [50, 95])
            mattes = sum(stats.ratios.values()) / stats.seconds
            print(
                f"{backend:<12} {ratio:>6g} {stats.fps:>6.1f} {mattes:>8.1f} "
                f"{p50:>7.0f} {p95:>7.0f} {latencies.max():>7.0f} "
                f"{stats.dropped:>8}/{stats.captured:<8}",
                flush=True,
            )


if __name__ == "__main__":
    main()
