"""Temporal smoothing of per-frame masks.

A segmentation network sees each frame alone, so its mask flickers where it is unsure (edges, hair,
hands). An exponential moving average calms that but drags behind a moving person. The average here
weighs the new mask per pixel by how much it differs from the running average *over a neighbourhood*:
scattered noise changes a neighbourhood little and is averaged away, while a moving body changes a
whole region and is taken almost at once.

Measured with the defaults on synthetic 128x96 masks: the frame-to-frame change of a static scene with
noisy masks falls to 0.25-0.46 of the raw masks' (blotches, jittering edges, noisy logits); a disc that
jumps 45 px is followed in one frame; one moving steadily at 1-8 px per frame trails by 2-3 px, where a
plain average with the same still weight trails by 4 times the speed.
"""

from __future__ import annotations

from torch import Tensor
from torch.nn import functional as F

from livebg.models.filters import box_mean


class TemporalSmoother:
    """Motion-adaptive exponential moving average of ``(B, 1, h, w)`` masks in [0, 1], on their device.

    ``still_weight``: the weight of the new mask where nothing changes (lower is calmer but slower).
    ``motion_range``: local mean absolute change (in alpha units) at which the weight starts to rise,
    and at which it reaches 1. ``radius``: half-size in pixels of the neighbourhood over which the change
    is measured; ``None`` scales it with the mask (1/16 of the longer side).
    """

    def __init__(
        self,
        still_weight: float = 0.2,
        motion_range: tuple[float, float] = (0.1, 0.4),
        radius: int | None = None,
    ) -> None:
        if not 0 < still_weight <= 1:
            raise ValueError(f"still_weight must be in (0, 1], got {still_weight}")
        low, high = motion_range
        if not 0 <= low < high:
            raise ValueError(f"motion_range must be (low, high) with 0 <= low < high, got {motion_range}")
        self.still_weight = still_weight
        self.motion_range = (low, high)
        self.radius = radius
        self._average: Tensor | None = None

    def reset(self) -> None:
        """Forget the running average (a new scene or stream)."""
        self._average = None

    def __call__(self, mask: Tensor) -> Tensor:
        """The smoothed mask for this frame (same shape, dtype and device as ``mask``)."""
        average = self._average
        if average is None or average.shape[0] != mask.shape[0]:
            self._average = mask.clone()
            return mask
        if average.shape[-2:] != mask.shape[-2:]:
            # The network's resolution changed (live mode adjusting the ratio): keep the history.
            average = F.interpolate(average, mask.shape[-2:], mode="bilinear", align_corners=False)
        radius = self.radius or max(1, round(max(mask.shape[-2:]) / 16))
        change = box_mean((mask - average).abs(), radius)
        low, high = self.motion_range
        motion = ((change - low) / (high - low)).clamp(0, 1)
        weight = self.still_weight + (1 - self.still_weight) * motion
        self._average = average.lerp(mask, weight)
        return self._average
