"""Network-only speed and accuracy of each inference backend on real 720p frames.

For each downsample ratio the eager fp32 PyTorch session runs first (the reference); then every other
backend runs the same frames with its recurrent state carried. Printed per backend and ratio: setup time
(export + compile, measured into a fresh temporary cache unless ``--cache`` is given), ms per frame
(mean and median, after one warm-up frame and a reset), frames per second, speed-up over PyTorch, and
the alpha's difference from PyTorch (largest in uint8 levels, mean in 1/255), and the rate of work
(the network's convolution GFLOP per frame over the time per frame), to set against what the CPU can
compute (a Zen 4 core: 32 fp32 FLOP per cycle).

    python benchmarks/model_backends.py [--frames 30] [--ratios 0.375,0.25,auto]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import av
import torch

from livebg.machine import cpu_summary
from livebg.matting.factory import load_rvm
from livebg.matting.rvm_session import RVMSession
from livebg.matting.session import auto_downsample_ratio

SHARED = Path(os.environ.get("LIVEBG_TEST_DATA", "/work/shared"))


def read_frames(clip: Path, count: int) -> list[torch.Tensor]:
    """The first ``count`` frames as ``(1, 3, H, W)`` float RGB in [0, 1]."""
    frames = []
    with av.open(str(clip)) as container:
        for frame in container.decode(video=0):
            rgb = frame.to_ndarray(format="rgb24")
            frames.append(torch.from_numpy(rgb).permute(2, 0, 1).unsqueeze(0).float().div(255))
            if len(frames) == count:
                break
    return frames


def make_session(backend: str, model, ratio: float, folder: Path | None):
    if backend == "torch":
        return RVMSession(model, torch.device("cpu"), torch.float32, ratio)
    if backend == "onnxruntime":
        from livebg.matting.exported.onnxruntime import OnnxSession

        return OnnxSession(model, ratio, export_folder=folder)
    from livebg.matting.exported.openvino import OpenVinoSession

    precision = "bf16" if backend == "openvino-bf16" else "fp32"
    return OpenVinoSession(model, ratio, export_folder=folder, precision=precision)


def run(session, frames: list[torch.Tensor]) -> tuple[list[float], list[torch.Tensor]]:
    """Seconds per frame and the alphas, state carried from the first frame."""
    session(frames[0])  # warm-up: first-call allocations and kernel selection
    session.reset()
    times, alphas = [], []
    for src in frames:
        began = time.perf_counter()
        matte = session(src)
        times.append(time.perf_counter() - began)
        alphas.append(matte.alpha.clone())
    return times, alphas


def network_gflop(model, frame: torch.Tensor, ratio: float) -> float:
    """The convolutions' floating-point operations for one frame at ``ratio`` (2 per multiply-add), in
    billions: the work every backend does, to compare their speed with what the CPU can compute."""
    macs = 0

    def count(module: torch.nn.Conv2d, _inputs: object, output: torch.Tensor) -> None:
        nonlocal macs
        kernel = module.kernel_size[0] * module.kernel_size[1]
        macs += output.numel() * module.in_channels // module.groups * kernel

    hooks = [m.register_forward_hook(count) for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    try:
        with torch.inference_mode():
            model.coefficients(frame, (None, None, None, None), ratio)
    finally:
        for hook in hooks:
            hook.remove()
    return 2 * macs / 1e9


def levels(a: torch.Tensor, b: torch.Tensor) -> int:
    def to_u8(t: torch.Tensor) -> torch.Tensor:
        return t.mul(255).add(0.5).clamp(0, 255).to(torch.uint8).to(torch.int16)

    return int((to_u8(a) - to_u8(b)).abs().max())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clip", type=Path, default=SHARED / "data" / "woman_indoor_plants_720p.mp4")
    parser.add_argument("--weights", type=Path, default=SHARED / "models" / "rvm_mobilenetv3_tfjs.pth")
    parser.add_argument("--frames", type=int, default=30)
    parser.add_argument("--ratios", default="0.375,0.25,auto", help="comma-separated; auto = longer side 512")
    parser.add_argument(
        "--backends",
        default="torch,onnxruntime,openvino,openvino-bf16",
        help="comma-separated; openvino-bf16 runs the decoder in bf16 (CPUs with bf16 only)",
    )
    parser.add_argument("--cache", action="store_true", help="use the user's export cache, not a fresh one")
    args = parser.parse_args()
    print(f"cpu: {cpu_summary()}", flush=True)

    model = load_rvm("rvm-mobilenetv3", args.weights)
    frames = read_frames(args.clip, args.frames)
    height, width = frames[0].shape[-2:]
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    print(f"{args.clip.name}: {len(frames)} frames of {width}x{height}, {torch.get_num_threads()} threads")
    print(
        f"{'backend':<12} {'ratio':>6} {'setup':>7} {'mean':>8} {'median':>8} {'fps':>6} {'speed-up':>8} "
        f"{'alpha max':>9} {'mean':>7} {'GFLOPS':>7}"
    )
    with tempfile.TemporaryDirectory(prefix="livebg-bench-") as tmp:
        folder = None if args.cache else Path(tmp)
        for text in args.ratios.split(","):
            ratio = auto_downsample_ratio(height, width) if text.strip() == "auto" else float(text)
            gflop = network_gflop(model, frames[0], ratio)
            reference: list[torch.Tensor] | None = None
            torch_ms: float | None = None
            for backend in backends:
                began = time.perf_counter()
                session = make_session(backend, model, ratio, folder)
                session.prepare(height, width)
                setup = time.perf_counter() - began
                times, alphas = run(session, frames)
                mean_ms = 1000 * statistics.fmean(times)
                median_ms = 1000 * statistics.median(times)
                if backend == "torch":
                    reference, torch_ms = alphas, mean_ms
                speed_up = f"{torch_ms / mean_ms:7.2f}x" if torch_ms else f"{'-':>8}"
                if reference is not None and backend != "torch":
                    worst = max(levels(a, r) for a, r in zip(alphas, reference, strict=True))
                    mean = max(
                        float((a - r).abs().mean()) * 255 for a, r in zip(alphas, reference, strict=True)
                    )
                    accuracy = f"{worst:>9d} {mean:>7.4f}"
                else:
                    accuracy = f"{'-':>9} {'-':>7}"
                print(
                    f"{backend:<12} {ratio:>6.3f} {setup:>6.1f}s {mean_ms:>6.1f}ms {median_ms:>6.1f}ms "
                    f"{1000 / mean_ms:>6.1f} {speed_up} {accuracy} {gflop / mean_ms * 1000:>7.0f}",
                    flush=True,
                )
            print(f"  (ratio {ratio:.3f}: the network is {gflop:.2f} GFLOP per frame)", flush=True)


if __name__ == "__main__":
    main()
