"""The one interface every matting model answers.

A session belongs to one stream: it keeps whatever the model carries from frame to frame (RVM's
recurrent state, a segmentation model's temporal smoothing) and forgets it on ``reset()``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import torch
from torch import Tensor


@dataclass(frozen=True)
class Matte:
    """What a session returns for one frame, on the session's device.

    ``alpha``: ``(T, 1, H, W)`` float in [0, 1], 1 where the person is (one per frame given).
    ``foreground``: ``(T, 3, H, W)`` float RGB in [0, 1], the person's colours with the old background's
    spill removed, or ``None`` when the model does not predict it (use the frame itself then).
    """

    alpha: Tensor
    foreground: Tensor | None = None


@runtime_checkable
class MattingSession(Protocol):
    """Frame in, matte out.

    ``__call__`` takes ``src``: float RGB ``(T, 3, H, W)`` in [0, 1] on ``device`` with ``dtype``, T
    consecutive frames of the stream (usually 1; files on a GPU pass several so the network sees them
    at once), and returns a :class:`Matte` of the same height and width per frame. A change of frame
    size resets the state by itself. ``downsample_ratio`` is the scale at which the network sees the
    frame (``None``: chosen automatically from the frame size); live mode lowers it to hold a frame
    rate (:meth:`set_downsample_ratio`). ``backend`` names the runtime that runs the network
    (``torch``, ``onnxruntime``, ``openvino``).
    """

    name: str
    backend: str
    device: torch.device
    dtype: torch.dtype
    downsample_ratio: float | None

    def __call__(self, src: Tensor) -> Matte: ...

    def reset(self) -> None: ...

    def current_ratio(self, height: int, width: int) -> float:
        """The downsample ratio used for a frame of this size."""
        ...

    def set_downsample_ratio(self, ratio: float | None) -> None:
        """Use ``ratio`` from the next frame on (``None``: automatic)."""
        ...

    def prepare(self, height: int, width: int, ratio: float | None = None) -> None:
        """Compile what ``(height, width)`` frames at ``ratio`` need ahead of use (a no-op for sessions
        that compile nothing); callable from another thread while frames go through."""
        ...


def auto_downsample_ratio(height: int, width: int, target: int = 512) -> float:
    """Scale that brings the longer side near ``target`` pixels (RVM authors' advice), never above 1."""
    return min(1.0, target / max(height, width))
