"""The backgrounds that need no file: none, transparent, one colour."""

from __future__ import annotations

import torch
from torch import Tensor

# ---------------------------------------------------------------------------------------------------
# Kinds


class PassThrough:
    """``none``: no background, no model; the compositor returns the frame as it is."""

    name = "none"
    needs_matte = False
    transparent = False

    def render(self, src: Tensor, alpha: Tensor, time: float) -> Tensor | None:
        return None

    def close(self) -> None:
        pass


class Transparent:
    """``transparent``: the output is RGBA with the matte as alpha."""

    name = "transparent"
    needs_matte = True
    transparent = True

    def render(self, src: Tensor, alpha: Tensor, time: float) -> Tensor | None:
        return None

    def close(self) -> None:
        pass


class SolidColour:
    """One colour everywhere; ``rgb`` is 0–255 in RGB order."""

    needs_matte = True
    transparent = False

    def __init__(self, rgb: tuple[int, int, int], name: str | None = None) -> None:
        self.rgb = rgb
        self.name = name or "#{:02x}{:02x}{:02x}".format(*rgb)
        self._cache: dict[tuple[torch.device, torch.dtype], Tensor] = {}

    def render(self, src: Tensor, alpha: Tensor, time: float) -> Tensor:
        key = (src.device, src.dtype)
        pixel = self._cache.get(key)
        if pixel is None:
            pixel = torch.tensor(self.rgb, dtype=torch.float32).div(255).view(1, 3, 1, 1)
            pixel = pixel.to(src.device, src.dtype)
            self._cache[key] = pixel
        return pixel.expand(src.shape[0], 3, src.shape[2], src.shape[3])

    def close(self) -> None:
        self._cache.clear()
