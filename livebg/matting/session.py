"""The one interface every matting model answers.

A session belongs to one stream: it keeps whatever the model carries from frame to frame (RVM's
recurrent state, a segmentation model's temporal smoothing) and forgets it on ``reset()``. Another
stream of the same model takes ``fork()``: the network is loaded once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Real
from typing import Protocol, runtime_checkable

import torch
import torch.nn.functional as F
from torch import Tensor

from livebg.errors import UsageError


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
    """Frame in, matte out, for one stream.

    ``__call__`` takes ``src``: float RGB ``(T, 3, H, W)`` in [0, 1] on ``device`` with ``dtype``, T
    consecutive frames of the stream (usually 1; files on a GPU pass several so the network sees them
    at once), and returns a :class:`Matte` of the same height and width per frame. A change of frame
    size resets the state by itself. ``backend`` names the runtime that runs the network (``torch``,
    ``onnxruntime``, ``openvino``).

    The downsample ratio is the scale at which the network sees the frame: ``None`` chooses it from
    the frame size (:meth:`current_ratio`); live mode lowers it with :meth:`set_downsample_ratio` to
    hold a frame rate, and compiles the ratios it may step to ahead of time with :meth:`prepare`
    (from another thread; a no-op for sessions that compile nothing). :meth:`fork` gives a session for
    another stream that shares the loaded network but none of this one's state.

    ``foreground``: whether mattes carry the model's foreground where it has one (default ``True``).
    Live mode turns it off: it shows each matte over later frames, where an earlier frame's colours
    would be wrong, and a runtime that computes the full-resolution step itself then skips three of
    its four planes.
    """

    name: str
    backend: str
    device: torch.device
    dtype: torch.dtype
    foreground: bool

    @property
    def downsample_ratio(self) -> float | None:
        """The ratio set, or ``None`` for automatic."""
        ...

    def set_downsample_ratio(self, ratio: float | None) -> None:
        """Use ``ratio`` in (0, 1] from the next frame on (``None``: automatic); anything else is a
        :class:`~livebg.errors.UsageError`."""
        ...

    def current_ratio(self, height: int, width: int) -> float:
        """The downsample ratio used for a frame of this size."""
        ...

    def prepare(self, height: int, width: int, ratio: float | None = None) -> None:
        """Compile what ``(height, width)`` frames at ``ratio`` (default: the current one) need, so a
        later switch to them does not stall a stream. Thread-safe."""
        ...

    def __call__(self, src: Tensor) -> Matte: ...

    def reset(self) -> None:
        """Forget the stream's history (RVM's recurrent state, a segmentation model's smoothing)."""
        ...

    def fork(self) -> MattingSession:
        """A session with the same model and settings for another stream: it shares the loaded network
        (and whatever the runtime compiled) and starts with its own fresh state."""
        ...


class DownsampleRatio:
    """The downsample-ratio part of :class:`MattingSession` (and its ``foreground`` switch), shared by the
    sessions here.

    ``input_size``: the longer side, in pixels, that the automatic ratio brings the frame near.
    """

    input_size: int = 512
    foreground: bool = True
    _ratio: float | None = None

    @property
    def downsample_ratio(self) -> float | None:
        return self._ratio

    def set_downsample_ratio(self, ratio: float | None) -> None:
        self._ratio = check_ratio(ratio)

    def current_ratio(self, height: int, width: int) -> float:
        return self._ratio or auto_downsample_ratio(height, width, self.input_size)


def check_ratio(ratio: float | None) -> float | None:
    """``ratio`` itself if it is ``None`` or in (0, 1]; anything else is a :class:`UsageError`."""
    if ratio is not None and not (isinstance(ratio, Real) and 0 < ratio <= 1):
        raise UsageError(
            f"downsample ratio {ratio!r} is outside (0, 1]; give e.g. 0.25 for 4K or 0.5 for 720p, "
            "or None for automatic"
        )
    return ratio


def auto_downsample_ratio(height: int, width: int, target: int = 512) -> float:
    """Scale that brings the longer side near ``target`` pixels (RVM authors' advice), never above 1."""
    return min(1.0, target / max(height, width))


MIN_SIDE = 8
"""The fewest pixels a side may have where the network sees the frame (after downsampling): RVM's
decoder halves it three times, and OpenVINO refuses to halve a 1-pixel side (PyTorch refuses 0)."""
_PAD_UP_TO = 64
"""Frames smaller than the network takes are padded up to this side at most; past it the downsample
ratio is at fault, not the frame."""


def matte_any_size(session: MattingSession, src: Tensor) -> Matte:
    """``session(src)`` for ``(T, 3, H, W)`` frames of any size down to 1x1: frames too small for the
    network at the current ratio are padded (their edge pixels repeated) and the matte cropped back.
    A ratio that shrinks a larger frame below :data:`MIN_SIDE` is a :class:`UsageError`."""
    height, width = src.shape[-2:]
    ratio = session.current_ratio(height, width)
    side = math.ceil(MIN_SIDE / ratio)
    if height >= side and width >= side:
        return session(src)
    if side > _PAD_UP_TO:
        raise UsageError(
            f"downsample ratio {ratio:g} shrinks the {width}x{height} frames below the {MIN_SIDE} pixels a "
            f"side the network needs; give a ratio of at least {MIN_SIDE / min(height, width):.3g}"
        )
    matte = session(F.pad(src, (0, max(0, side - width), 0, max(0, side - height)), mode="replicate"))
    fgr = matte.foreground
    return Matte(matte.alpha[..., :height, :width], None if fgr is None else fgr[..., :height, :width])
