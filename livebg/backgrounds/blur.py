"""The frame's own background, blurred, with the person kept out of the blur."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from livebg.backgrounds.base import BLUR_DEFAULT_STRENGTH
from livebg.errors import BackgroundError
from livebg.resize import upsample

# Blur radius at strength 100, as a fraction of the frame height (a Gaussian sigma of 36 px at 720p).
_BLUR_SIGMA_AT_100 = 0.05
# The blur runs at a resolution reduced by a whole factor so that its sigma is at most this many pixels.
_BLUR_SMALL_SIGMA = 1.5
_BLUR_MAX_REDUCTION = 16
# Weight floor: where the person covers the whole blur window the result is the blurred frame, not 0/0;
# far too little to tint the background around the person (1e-3 of the weight of a background pixel).
_BLUR_PERSON_WEIGHT = 1e-3

class Blur:
    """The frame's own background, blurred; the person's colours are kept out of the blur.

    ``strength`` 1–100 sets a Gaussian sigma of ``strength / 100 * 0.05`` of the frame height (36 px at
    720p for 100). Each pixel of the result is a blur-weighted average of the frame's *background*
    pixels only (weights ``(1 - alpha)**8``, plus a tiny floor), so the person does not glow into the
    blur. It runs at a reduced resolution where the sigma is about 1.5 px, and the weighted colours and
    the weights are scaled back up separately before the division.
    """

    needs_matte = True
    transparent = False

    def __init__(self, strength: int = BLUR_DEFAULT_STRENGTH) -> None:
        if not 1 <= strength <= 100:
            raise BackgroundError(f"blur strength {strength} is outside 1-100; e.g. blur:40")
        self.strength = strength

    @property
    def name(self) -> str:
        return f"blur:{self.strength}"

    def sigma(self, height: int) -> float:
        """The blur's Gaussian sigma in pixels for a frame ``height`` pixels high."""
        return self.strength / 100 * _BLUR_SIGMA_AT_100 * height

    def render(self, src: Tensor, alpha: Tensor, time: float) -> Tensor:
        batch, _, height, width = src.shape
        sigma = self.sigma(height)
        reduction = min(_BLUR_MAX_REDUCTION, math.ceil(sigma / _BLUR_SMALL_SIGMA))
        # Channels 0-2: the frame times the background weight; channel 3: the weight, (1 - alpha)**8 so
        # that half-transparent edge pixels, whose colour is partly the person's, count for little
        # (with a square, the person's colour at the edges still tints the blur by about 3/255).
        stack = src.new_empty((batch, 4, height, width))
        weight = stack[:, 3:]
        weight.copy_(alpha).neg_().add_(1).square_().square_().square_().add_(_BLUR_PERSON_WEIGHT)
        torch.mul(src, weight, out=stack[:, :3])
        if reduction > 1:
            small = (max(1, round(height / reduction)), max(1, round(width / reduction)))
            stack = F.interpolate(stack, size=small, mode="area")
        stack = self._gaussian(stack, sigma * stack.shape[-2] / height)
        if reduction > 1:
            # Scaled up before the division: dividing first would interpolate between background
            # pixels and the meaningless values inside the person, a halo one small pixel wide.
            stack = upsample(stack, (height, width))
        return stack[:, :3].div_(stack[:, 3:])

    @staticmethod
    def _gaussian(image: Tensor, sigma: float) -> Tensor:
        """Separable Gaussian blur as sums of shifted slices: on a CPU several times faster than a
        depthwise convolution, and the same few kernels on a GPU."""
        if sigma < 0.3:
            return image
        radius = max(1, math.ceil(3 * sigma))
        taps = [math.exp(-(x * x) / (2 * sigma * sigma)) for x in range(-radius, radius + 1)]
        total = sum(taps)
        taps = [t / total for t in taps]
        for dim in (-1, -2):
            size = image.shape[dim]
            # Reflect padding cannot reach past the image; replicate is a fine edge model for a blur too.
            mode = "reflect" if radius < size else "replicate"
            padding = (radius, radius, 0, 0) if dim == -1 else (0, 0, radius, radius)
            padded = F.pad(image, padding, mode=mode)
            image = padded.narrow(dim, 0, size) * taps[0]
            for shift in range(1, len(taps)):
                image.add_(padded.narrow(dim, shift, size), alpha=taps[shift])
        return image

    def close(self) -> None:
        pass
