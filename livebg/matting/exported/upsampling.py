"""The full-resolution step of RVM's refiner on the CPU, outside the exported graph.

The graph ends at the refiner's linear model ``y = a * x + b`` at the downsampled size (see
:meth:`livebg.models.rvm.MattingNetwork.coefficients`). Carrying it to the full frame is a bilinear
upsampling of eight planes and a multiply-add per pixel. In ONNX Runtime and OpenVINO that step took
20–27 ms of an 80 ms 720p frame. Here every full-resolution pass is one OpenCV call (a multithreaded
resize, fused multiply-adds, in-place clamps): equal to PyTorch's ``F.interpolate(..., mode="bilinear",
align_corners=False)`` and arithmetic within 1e-5, and unlike PyTorch's statically split threads it does
not stall when another process holds a core (``benchmarks/tail.py``).
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
import torch
from torch import Tensor

from livebg.resize import upsample_planes

# Folded into ``a`` at the low resolution, where it costs nothing: the foreground is a residual to the
# frame (a * x + b + x = (a + 1) * x + b), and alpha's guide is the mean of the channels (a / 3 times
# their sum).
_A_SCALE = np.array([1.0, 1.0, 1.0, 1.0 / 3.0], np.float32).reshape(4, 1, 1)
_A_OFFSET = np.array([1.0, 1.0, 1.0, 0.0], np.float32).reshape(4, 1, 1)


class CoefficientUpsampler:
    """Turns the coefficients ``a``, ``b`` (``(1, 4, h, w)`` float32 arrays) and the frame's channels
    ``rgb`` (three contiguous float32 ``(H, W)`` planes, see :func:`livebg.tensors.planes`) into the
    clamped foreground ``(1, 3, H, W)`` and alpha ``(1, 1, H, W)``: views of one fresh ``(4, H, W)``
    buffer. Keeps one scratch buffer for the upsampled ``a``; one instance per stream."""

    def __init__(self) -> None:
        self._a: np.ndarray | None = None

    def __call__(self, a: np.ndarray, b: np.ndarray, rgb: Sequence[np.ndarray]) -> tuple[Tensor, Tensor]:
        height, width = rgb[0].shape
        up_a = upsample_planes(a[0] * _A_SCALE + _A_OFFSET, height, width, out=self._scratch(height, width))
        out = upsample_planes(b[0], height, width)  # b, then y = a * x + b accumulated in place
        for channel, plane in enumerate(rgb):
            cv2.accumulateProduct(up_a[channel], plane, out[channel])
            cv2.accumulateProduct(up_a[3], plane, out[3])
        _clamp(out.reshape(4 * height, width))
        y = torch.from_numpy(out).unsqueeze(0)
        return y[:, :3], y[:, 3:]

    def alpha(self, a: np.ndarray, b: np.ndarray, rgb: Sequence[np.ndarray]) -> Tensor:
        """Alpha alone, ``(1, 1, H, W)``: what :meth:`__call__` gives as its second part, from two
        upsampled planes instead of eight."""
        height, width = rgb[0].shape
        scratch = self._scratch(height, width)[3:]
        up_a = upsample_planes(a[0, 3:] * _A_SCALE[3:], height, width, out=scratch)[0]
        out = upsample_planes(b[0, 3:], height, width)[0]
        for plane in rgb:
            cv2.accumulateProduct(up_a, plane, out)
        _clamp(out)
        return torch.from_numpy(out)[None, None]

    def _scratch(self, height: int, width: int) -> np.ndarray:
        """The ``(4, height, width)`` float32 buffer for the upsampled ``a``, kept between frames."""
        if self._a is None or self._a.shape[-2:] != (height, width):
            self._a = np.empty((4, height, width), np.float32)
        return self._a


def _clamp(plane: np.ndarray) -> None:
    """Clamp a float32 ``(H, W)`` array to [0, 1] in place (two OpenCV passes)."""
    cv2.threshold(plane, 1.0, 1.0, cv2.THRESH_TRUNC, dst=plane)
    cv2.threshold(plane, 0.0, 0.0, cv2.THRESH_TOZERO, dst=plane)
