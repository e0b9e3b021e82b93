"""Conversions between ``uint8 (H, W, C)`` RGB pictures on the host and float ``(B, C, H, W)`` tensors in
[0, 1] on the model's device."""

from __future__ import annotations

import cv2
import numpy as np
import torch
from torch import Tensor


def to_tensor(rgb: np.ndarray, device: torch.device, dtype: torch.dtype = torch.float32) -> Tensor:
    """``uint8 (H, W, C)`` array to a ``(1, C, H, W)`` tensor in [0, 1] on ``device``.

    The uint8 data crosses to the device before the conversion to float (a quarter of the bytes).
    """
    t = torch.from_numpy(np.ascontiguousarray(rgb))
    # Pinned memory lets the copy to a GPU run asynchronously.
    t = t.pin_memory().to(device, non_blocking=True) if device.type == "cuda" else t.to(device)
    return t.permute(2, 0, 1).unsqueeze(0).to(dtype).div_(255)


def planes(image: Tensor) -> list[np.ndarray]:
    """The channels of a float32 CPU ``(C, H, W)`` tensor as contiguous float32 ``(H, W)`` arrays: views
    where it is planar, one OpenCV split where it is channels-last (as :func:`to_tensor` makes it)."""
    hwc = image.permute(1, 2, 0)
    if image.shape[0] > 1 and hwc.is_contiguous():
        return list(cv2.split(hwc.numpy()))
    return [plane.contiguous().numpy() for plane in image]


def to_uint8(image: Tensor) -> np.ndarray:
    """A ``(1, C, H, W)`` or ``(C, H, W)`` tensor in [0, 1] to a ``uint8 (H, W, C)`` array on the host
    (rounded to the nearest level, saturated outside [0, 1])."""
    if image.dim() == 4:
        image = image[0]
    if image.device.type == "cpu" and image.dtype == torch.float32 and image.shape[0] <= 4:
        # OpenCV scales, rounds and saturates in one pass (per plane, then interleaves): at 1080p 3.5 ms
        # against 14 ms for the same in PyTorch with its transposing copy.
        hwc = image.permute(1, 2, 0)
        if image.shape[0] == 3 and image.stride(0) == 0:  # one plane expanded (a matte shown as grey)
            grey = cv2.multiply(image[0].contiguous().numpy(), 255.0, dtype=cv2.CV_8U)
            return cv2.cvtColor(grey, cv2.COLOR_GRAY2RGB)
        if hwc.is_contiguous():
            return cv2.multiply(hwc.numpy(), (255.0,) * 4, dtype=cv2.CV_8U).reshape(hwc.shape)
        levels = [cv2.multiply(plane, 255.0, dtype=cv2.CV_8U) for plane in planes(image)]
        return cv2.merge(levels).reshape(hwc.shape)
    out = image.mul(255).add_(0.5).clamp_(0, 255).to(torch.uint8).permute(1, 2, 0)
    return np.ascontiguousarray(out.cpu().numpy())
