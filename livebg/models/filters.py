"""Parameter-free image filters on ``(B, C, H, W)`` float tensors: a box filter and the guided filter
(He, Sun & Tang, "Guided Image Filtering", TPAMI 2013), including its fast variant (He & Sun, "Fast
Guided Filter", 2015) that computes the coefficients at a low resolution and applies them at full
resolution."""

from __future__ import annotations

import torch
from torch import Tensor
from torch.nn import functional as F


def box_filter(x: Tensor, radius: int) -> Tensor:
    """Mean over a (2r+1)^2 window with zero padding, as two separable depthwise convolutions.

    Near the border the zeros outside count in the mean (RVM's refiner relies on that); use
    :func:`box_mean` for a true mean there.
    """
    k = 2 * radius + 1
    c = int(x.shape[1])  # a Python int: a constant in an exported graph, whose frame size stays free
    kx = x.new_full((c, 1, 1, k), 1.0 / k)
    ky = x.new_full((c, 1, k, 1), 1.0 / k)
    x = F.conv2d(x, kx, padding=(0, radius), groups=c)
    return F.conv2d(x, ky, padding=(radius, 0), groups=c)


def box_mean(x: Tensor, radius: int) -> Tensor:
    """Mean over the (2r+1)^2 window clipped to the image (no padding counts), from cumulative sums,
    so the cost does not grow with the radius."""
    return _window_sum(_window_sum(x, radius, -1), radius, -2) / _window_count(x, radius)


def _window_sum(x: Tensor, radius: int, dim: int) -> Tensor:
    n = x.shape[dim]
    pad = [0, 0] * (-dim - 1) + [radius + 1, radius]
    cumulative = F.pad(x, pad).cumsum(dim)
    return cumulative.narrow(dim, 2 * radius + 1, n) - cumulative.narrow(dim, 0, n)


def _window_count(x: Tensor, radius: int) -> Tensor:
    h, w = x.shape[-2:]

    def count(n: int) -> Tensor:
        i = torch.arange(n, device=x.device, dtype=x.dtype)
        return (i + radius).clamp(max=n - 1) - (i - radius).clamp(min=0) + 1

    return count(h)[:, None] * count(w)[None, :]


def guided_filter_coefficients(guide: Tensor, src: Tensor, radius: int, eps: float) -> tuple[Tensor, Tensor]:
    """The window-averaged linear coefficients ``(a, b)`` with ``output = a * guide + b``.

    ``guide``: ``(B, 1, H, W)``; ``src``: ``(B, C, H, W)`` of the same size; ``eps`` is the
    regularisation in the guide's squared units (a larger value smooths across weaker edges).
    """
    mean_i = box_mean(guide, radius)
    mean_p = box_mean(src, radius)
    cov_ip = box_mean(guide * src, radius) - mean_i * mean_p
    # Cancellation can leave a tiny negative variance in flat regions; it is zero there.
    var_i = (box_mean(guide * guide, radius) - mean_i * mean_i).clamp(min=0)
    a = cov_ip / (var_i + eps)
    b = mean_p - a * mean_i
    return box_mean(a, radius), box_mean(b, radius)


def fast_guided_filter(
    guide_low: Tensor, src_low: Tensor, guide_full: Tensor, radius: int, eps: float
) -> Tensor:
    """Guided filter whose coefficients come from the low-resolution ``guide_low``/``src_low`` pair
    (``radius`` in low-resolution pixels) and are upsampled bilinearly to ``guide_full``'s size.

    This also upsamples ``src_low``: the result has ``guide_full``'s height and width, with edges where
    the full-resolution guide has them.
    """
    a, b = guided_filter_coefficients(guide_low, src_low, radius, eps)
    size = guide_full.shape[-2:]
    a = F.interpolate(a, size, mode="bilinear", align_corners=False)
    b = F.interpolate(b, size, mode="bilinear", align_corners=False)
    return a * guide_full + b
