"""The full-resolution step of RVM's refiner on the CPU, outside the exported graph.

The graph ends at the refiner's linear model ``y = a * x + b`` at the downsampled size (see
:meth:`livebg.models.rvm.MattingNetwork.coefficients`). Carrying it to the full frame is a bilinear
upsampling of eight planes and a multiply-add per pixel. In ONNX Runtime and OpenVINO that step took
20–27 ms of an 80 ms 720p frame; OpenCV's resize and in-place torch arithmetic do it in about 7 ms,
equal to PyTorch's ``F.interpolate(..., mode="bilinear", align_corners=False)`` within 1e-5.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from livebg.resize import upsample_planes


class CoefficientUpsampler:
    """Turns the coefficients ``a``, ``b`` (``(1, 4, h, w)`` float32 arrays) and the frame ``src``
    (``(1, 3, H, W)`` float32, contiguous) into the clamped foreground ``(1, 3, H, W)`` and alpha
    ``(1, 1, H, W)``, as fresh tensors. Keeps one scratch buffer for the upsampled planes; one instance
    per stream."""

    def __init__(self) -> None:
        self._planes: np.ndarray | None = None

    def __call__(self, a: np.ndarray, b: np.ndarray, src: np.ndarray) -> tuple[Tensor, Tensor]:
        height, width = src.shape[-2:]
        if self._planes is None or self._planes.shape[-2:] != (height, width):
            self._planes = np.empty((8, height, width), np.float32)
        planes = self._planes
        upsample_planes(a[0], height, width, out=planes[:4])
        upsample_planes(b[0], height, width, out=planes[4:])
        up = torch.from_numpy(planes)
        rgb = torch.from_numpy(src[0])
        # The foreground is a residual to the frame: a * rgb + b + rgb.
        fgr = torch.addcmul(up[4:7], up[:3], rgb).add_(rgb).clamp_(0.0, 1.0)
        pha = torch.addcmul(up[7], up[3], rgb.mean(0)).clamp_(0.0, 1.0)
        return fgr.unsqueeze(0), pha[None, None]
