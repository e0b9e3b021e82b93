"""Frame conventions and the picture that travels from a source to the frame step.

At the I/O edge a frame is a ``uint8`` ``(H, W, 3)`` RGB array (``(H, W, 4)`` RGBA when it carries
alpha). On the model's device it is a float ``(B, C, H, W)`` tensor in [0, 1] (:mod:`livebg.tensors`
converts). BGR exists only inside the OpenCV sources and sinks. This module imports no torch, so the
sources can be used (and inputs checked) before torch loads.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np


@dataclass
class Frame:
    """One decoded or captured picture.

    ``rgb`` is ``uint8 (H, W, 3)`` RGB. ``time`` is the presentation time in seconds from the start of
    the stream; ``pts``/``time_base`` are the container's exact timestamp when the source has one.
    ``captured_at`` is ``time.perf_counter()`` when the frame entered the program (for latency).
    """

    rgb: np.ndarray
    index: int
    time: float
    pts: int | None = None
    time_base: Fraction | None = None
    captured_at: float = field(default_factory=time.perf_counter)

    @property
    def size(self) -> tuple[int, int]:
        """``(height, width)`` in pixels."""
        return self.rgb.shape[0], self.rgb.shape[1]
