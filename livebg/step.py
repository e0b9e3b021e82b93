"""The frame step that every mode drives: ``uint8`` RGB frames → matting session → compositor → ``uint8``
pictures.

``livebg video``, ``livebg webcam``, ``livebg bench``, the Python API, batch workers and the web service
all call one :class:`FrameStep`. It has two halves so that a file pipeline can run them in different
threads (the model on frame t+1 while frame t is composited and encoded): :meth:`FrameStep.matte` takes
frames to mattes on the session's device, :meth:`FrameStep.render` turns one of those into the output
picture; calling the step does both. :class:`StageTimer` times the stages (decode or capture, model,
composite, output) for ``bench`` and the live HUD, synchronising the device before it reads the clock.
"""

from __future__ import annotations

import statistics
import time
from collections import deque
from collections.abc import Hashable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from livebg.compositing import Compositor
from livebg.frames import Frame
from livebg.matting.session import Matte, MattingSession, matte_any_size
from livebg.tensors import to_tensor, to_uint8

STAGES = ("decode", "model", "composite", "output")
"""The stages a pipeline reports: ``decode`` (or capture), ``model``, ``composite``, ``output``."""


class StageTimer:
    """Durations of the pipeline's stages, the last ``window`` of each (bounded: a live session may run
    for hours). ``device``: synchronised before the clock is read, so that asynchronous GPU work is
    counted in the stage that queued it. Appending from several threads is safe."""

    def __init__(self, device: torch.device | None = None, window: int = 300) -> None:
        self.device = device
        self._times: dict[str, deque[float]] = {stage: deque(maxlen=window) for stage in STAGES}

    def _sync(self) -> None:
        if self.device is None:
            return
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        elif self.device.type == "mps":
            torch.mps.synchronize()

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Times the ``with`` block as one run of stage ``name``."""
        self._sync()
        began = time.perf_counter()
        try:
            yield
        finally:
            self._sync()
            self.add(name, time.perf_counter() - began)

    def add(self, name: str, seconds: float) -> None:
        """Records one run of stage ``name`` that took ``seconds``."""
        self._times[name].append(seconds)

    def median_ms(self, name: str) -> float:
        """Median of the recorded runs of ``name`` in milliseconds (NaN before the first)."""
        runs = self._times[name]
        return 1000 * statistics.median(runs) if runs else float("nan")

    def last_ms(self, name: str) -> float:
        """The latest run of ``name`` in milliseconds (NaN before the first)."""
        runs = self._times[name]
        return 1000 * runs[-1] if runs else float("nan")

    def runs(self, name: str) -> list[float]:
        """The recorded runs of ``name`` in seconds, oldest first."""
        return list(self._times[name])


@dataclass(frozen=True)
class Matted:
    """A frame with its matte, between the step's two halves. ``src``: the frame as float RGB
    ``(1, 3, H, W)`` in [0, 1] on the session's device; ``matte``: its :class:`Matte`. Both are ``None``
    when the step passes frames through (no model needed)."""

    frame: Frame
    src: Tensor | None = None
    matte: Matte | None = None


class FrameStep:
    """One stream's per-frame work: frame → tensor → session → compositor → ``uint8`` picture.

    ``session`` may be ``None`` when the compositor's background needs no matte (``none``): frames then
    pass through untouched and no tensor is made. ``timer`` receives the ``model`` and ``composite``
    stages. A change of ``stream`` key between calls (a reconnected camera, another clip) resets the
    session's recurrent state first; ``resets`` counts those.
    """

    def __init__(
        self,
        session: MattingSession | None,
        compositor: Compositor,
        *,
        timer: StageTimer | None = None,
    ) -> None:
        self.session = session
        self.compositor = compositor
        self.timer = timer or StageTimer(session.device if session is not None else None)
        self.resets = 0
        self._stream: Hashable = None

    @property
    def needs_matte(self) -> bool:
        """Whether the current background (which hotkeys may change) needs the model."""
        return self.compositor.background.needs_matte

    def reset(self) -> None:
        """Forget the stream: the next frame starts the session's state afresh."""
        if self.session is not None:
            self.session.reset()
        self._stream = None

    def matte(self, frames: Sequence[Frame], *, stream: Hashable = None, force: bool = False) -> list[Matted]:
        """The frames with their mattes, in order. Several frames (consecutive, of one size) are given to
        the session at once. ``force`` computes the matte even where the background needs none (a live
        matte view)."""
        if stream != self._stream:
            if self._stream is not None and self.session is not None:
                self.session.reset()
                self.resets += 1
            self._stream = stream
        session = self.session
        if session is None or not frames or not (force or self.needs_matte):
            return [Matted(frame) for frame in frames]
        with self.timer.stage("model"):
            tensors = [to_tensor(frame.rgb, session.device, session.dtype) for frame in frames]
            src = tensors[0] if len(tensors) == 1 else torch.cat(tensors)
            matte = matte_any_size(session, src)
        if len(frames) == 1:
            return [Matted(frames[0], src, matte)]
        fgr = matte.foreground
        return [
            Matted(
                frame,
                src[i : i + 1],
                Matte(matte.alpha[i : i + 1], None if fgr is None else fgr[i : i + 1]),
            )
            for i, frame in enumerate(frames)
        ]

    def matte_still(self, frame: Frame, passes: int) -> Matted:
        """The matte of a still picture shown to the session ``passes`` times in a row (a recurrent
        model's first frame is its worst; its state settles on a still), from a fresh state."""
        self.reset()
        for _ in range(passes - 1):
            self.matte([frame])
        return self.matte([frame])[0]

    def render(self, item: Matted) -> np.ndarray:
        """The output picture of one matted frame: ``uint8 (H, W, C)`` RGB, or RGBA for a transparent
        composite; the frame itself when it passed through."""
        if item.src is None:
            return item.frame.rgb
        with self.timer.stage("composite"):
            return to_uint8(self.compositor(item.src, item.matte, item.frame.time))

    def __call__(self, frame: Frame, *, stream: Hashable = None) -> np.ndarray:
        """:meth:`matte` then :meth:`render` for one frame."""
        return self.render(self.matte([frame], stream=stream)[0])


def alpha_picture(item: Matted) -> np.ndarray | None:
    """The matte of ``item`` as a ``uint8 (H, W, 3)`` grey picture (for a matte view), or ``None``."""
    if item.matte is None:
        return None
    return to_uint8(item.matte.alpha.expand(-1, 3, -1, -1))
