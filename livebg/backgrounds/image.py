"""A still picture as the background, cover-fitted to the frame."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch
from torch import Tensor

from livebg.backgrounds.base import accepted_forms
from livebg.errors import BackgroundError


def cover_fit(rgb: np.ndarray, height: int, width: int) -> np.ndarray:
    """``rgb`` (H, W, C) scaled to cover ``height`` x ``width`` and centre-cropped: the aspect ratio is
    kept and nothing is stretched. Returns a new contiguous array of the same dtype."""
    src_h, src_w = rgb.shape[:2]
    # Crop the source to the target's aspect first, then resize once: exact output size, no stretch.
    if src_w * height > width * src_h:
        crop_w = max(1, round(src_h * width / height))
        x0 = (src_w - crop_w) // 2
        rgb = rgb[:, x0 : x0 + crop_w]
    else:
        crop_h = max(1, round(src_w * height / width))
        y0 = (src_h - crop_h) // 2
        rgb = rgb[y0 : y0 + crop_h]
    shrinking = rgb.shape[0] > height
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC
    if rgb.shape[:2] == (height, width):
        return np.ascontiguousarray(rgb)
    return cv2.resize(np.ascontiguousarray(rgb), (width, height), interpolation=interpolation)


def to_device(rgb: np.ndarray, device: torch.device, dtype: torch.dtype) -> Tensor:
    """uint8 (H, W, 3) to float (1, 3, H, W) in [0, 1]; the uint8 bytes cross to the device."""
    return torch.from_numpy(rgb).to(device).permute(2, 0, 1).unsqueeze(0).to(dtype).div_(255).contiguous()


class ImageBackground:
    """A still picture, cover-fitted to the frame; one fitted copy is cached per size, device and dtype."""

    needs_matte = True
    transparent = False

    def __init__(self, rgb: np.ndarray, name: str = "picture") -> None:
        """``rgb``: ``uint8 (H, W, 3)`` RGB, not copied (keep it unchanged)."""
        self.rgb = rgb
        self.name = name
        self._cache: dict[tuple[int, int, torch.device, torch.dtype], Tensor] = {}

    @classmethod
    def open(cls, path: str | Path, name: str | None = None) -> ImageBackground:
        """The picture in the file at ``path``; :class:`BackgroundError` when it cannot be read."""
        path = Path(path)
        # cv2.imread returns None (no exception) for missing or undecodable files.
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is None:
            if not path.exists():
                raise BackgroundError(f"background image {path} does not exist; check the path")
            raise BackgroundError(
                f"cannot read {path} as an image; give a JPEG, PNG or WebP file, or {accepted_forms()}"
            )
        return cls(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), name or path.stem)

    def render(self, src: Tensor, alpha: Tensor, time: float) -> Tensor:
        height, width = src.shape[-2:]
        key = (height, width, src.device, src.dtype)
        fitted = self._cache.get(key)
        if fitted is None:
            self._cache.clear()  # one output size at a time: a size change drops the old copy
            fitted = to_device(cover_fit(self.rgb, height, width), src.device, src.dtype)
            self._cache[key] = fitted
        return fitted.expand(src.shape[0], -1, -1, -1)

    def close(self) -> None:
        self._cache.clear()
