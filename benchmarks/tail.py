"""The tail after the network, per stage: the refiner's coefficients carried to the full frame, the
composite and the conversion to ``uint8``, before and after the OpenCV tail, measured in one run.

The coefficients are real: the RVM checkpoint runs a few frames of a real clip once per frame size
(720p at ratio 0.375, 1080p at 0.25), its recurrent state carried. Then, for each background kind and
output type, the tail runs ``--runs`` times, the old and the new way taking turns (the machine is
shared, so the two see the same load), and the script prints the median of each stage and the largest
difference between the two outputs in uint8 levels. Stages: ``coefficients`` (the frame's planes for
the apply, upsampling ``a`` and ``b``, ``a * x + b``, clamping: what the exported sessions do after the
graph), ``composite`` (:class:`~livebg.compositing.Compositor`) and ``uint8``
(:func:`~livebg.tensors.to_uint8`). "before" is the upsampler as it was, kept here: eight upsampled
planes in a scratch buffer, then PyTorch arithmetic on a planar copy of the frame.

    python benchmarks/tail.py --weights ../shared/models/rvm_mobilenetv3_tfjs.pth [--runs 30]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import av
import cv2
import numpy as np
import torch

from livebg.backgrounds import Background, parse_background
from livebg.compositing import Compositor
from livebg.matting.exported.upsampling import CoefficientUpsampler
from livebg.matting.factory import load_rvm
from livebg.matting.session import Matte
from livebg.resize import upsample_planes
from livebg.tensors import planes, to_tensor, to_uint8

SHARED = Path(os.environ.get("LIVEBG_TEST_DATA", "/work/shared"))
DATA = SHARED / "data"
CLIPS = {
    (720, 1280): ("woman_indoor_plants_720p.mp4", 0.375),
    (1080, 1920): ("group_talking_1080p.mp4", 0.25),
}
STAGES = ("coefficients", "composite", "uint8")


def real_coefficients(weights: Path, clip: Path, size: tuple[int, int], ratio: float, frames: int = 4):
    """The last of ``frames`` frames of ``clip`` resized to ``size`` as ``uint8 (H, W, 3)`` RGB, and the
    network's coefficients ``a``, ``b`` for it (float32 ``(1, 4, h, w)``)."""
    model = load_rvm("rvm-mobilenetv3", weights).eval()
    state = (None,) * 4
    with av.open(str(clip)) as container, torch.inference_mode():
        for index, frame in enumerate(container.decode(video=0)):
            rgb = cv2.resize(frame.to_ndarray(format="rgb24"), size[::-1], interpolation=cv2.INTER_AREA)
            a, b, state = model.coefficients(to_tensor(rgb, torch.device("cpu")), state, ratio)
            if index + 1 == frames:
                return rgb, a.numpy(), b.numpy()
    raise ValueError(f"{clip} has fewer than {frames} frames")


class OldUpsampler:
    """The upsampler before the OpenCV tail, fed as the session fed it (a planar copy of the frame)."""

    def __init__(self) -> None:
        self._planes: np.ndarray | None = None

    def __call__(self, a: np.ndarray, b: np.ndarray, src: torch.Tensor) -> Matte:
        src_np = src.contiguous().numpy()
        height, width = src_np.shape[-2:]
        if self._planes is None or self._planes.shape[-2:] != (height, width):
            self._planes = np.empty((8, height, width), np.float32)
        upsample_planes(a[0], height, width, out=self._planes[:4])
        upsample_planes(b[0], height, width, out=self._planes[4:])
        up = torch.from_numpy(self._planes)
        rgb = torch.from_numpy(src_np[0])
        fgr = torch.addcmul(up[4:7], up[:3], rgb).add_(rgb).clamp_(0.0, 1.0)
        pha = torch.addcmul(up[7], up[3], rgb.mean(0)).clamp_(0.0, 1.0)
        return Matte(pha[None, None], fgr.unsqueeze(0))


def new_upsampler() -> Callable[[np.ndarray, np.ndarray, torch.Tensor], Matte]:
    upsample = CoefficientUpsampler()

    def run(a: np.ndarray, b: np.ndarray, src: torch.Tensor) -> Matte:
        fgr, pha = upsample(a, b, planes(src[0]))
        return Matte(pha, fgr)

    return run


def tail(upsample, compositor: Compositor, a, b, src, times: dict[str, list[float]]) -> np.ndarray:
    began = time.perf_counter()
    matte = upsample(a, b, src)
    upsampled = time.perf_counter()
    picture = compositor(src, matte, 0.0)
    composited = time.perf_counter()
    out = to_uint8(picture)
    done = time.perf_counter()
    for stage, seconds in zip(
        STAGES, (upsampled - began, composited - upsampled, done - composited), strict=True
    ):
        times[stage].append(seconds)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--weights", type=Path, default=SHARED / "models" / "rvm_mobilenetv3_tfjs.pth")
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    cases: list[tuple[str, str]] = [
        ("#00b140", "composite"),
        (str(DATA / "bg_office_lobby_1080p.png"), "composite"),
        ("blur", "composite"),
        ("transparent", "composite"),
        ("#00b140", "alpha"),
        ("#00b140", "foreground"),
    ]
    threads = f"torch threads {torch.get_num_threads()}, OpenCV threads {cv2.getNumThreads()}"
    print(f"{threads}; median of {args.runs} runs in ms, before / after; largest output difference in levels")
    print(
        f"{'size':>9} {'background':>12} {'output':>10} | "
        + " | ".join(f"{s:>15}" for s in (*STAGES, "total"))
    )
    for size, (clip, ratio) in CLIPS.items():
        rgb, a, b = real_coefficients(args.weights, DATA / clip, size, ratio)
        src = to_tensor(rgb, torch.device("cpu"))
        for spec, output in cases:
            background: Background = parse_background(spec)
            compositor = Compositor(background, output)
            before: dict[str, list[float]] = {s: [] for s in STAGES}
            after: dict[str, list[float]] = {s: [] for s in STAGES}
            old, new = OldUpsampler(), new_upsampler()
            for _ in range(args.runs + 1):
                old_out = tail(old, compositor, a, b, src, before)
                new_out = tail(new, compositor, a, b, src, after)
            for times in (before, after):  # the first run warms up; totals are per run
                for stage in STAGES:
                    del times[stage][0]
                times["total"] = list(np.sum([times[s] for s in STAGES], axis=0))
            diff = int(np.abs(old_out.astype(np.int16) - new_out).max())
            cells = [
                f"{median_ms(before[s]):>6.1f} / {median_ms(after[s]):>6.1f}" for s in (*STAGES, "total")
            ]
            print(
                f"{size[1]}x{size[0]:<4} {background.name[:12]:>12} {output:>10} | "
                + " | ".join(cells)
                + f" | {diff}"
            )
            compositor.close()


def median_ms(seconds: list[float]) -> float:
    return 1000 * statistics.median(seconds)


if __name__ == "__main__":
    main()
