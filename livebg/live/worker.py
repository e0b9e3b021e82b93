"""The network in a thread of its own: live mode shows every camera frame at once, cut out with the
newest matte there is, while the network works on the newest frame at the largest input size it can
afford.

Against ground truth, a matte a few frames old from a large input is far closer to the truth than a
fresh one from an input small enough for every frame: on 720p clips, mean absolute error 3.4 for a
matte at ratio 0.375 shown 4–7 frames late, 10.6 for ratio 0.125 on every frame, 3.0 for 0.375 on every
frame (``benchmarks/held_mattes.py``); live on two cores, 15–16% above the last
(``benchmarks/live_quality.py``). The picture keeps the camera's rate whatever the network costs, and
the network's rate is paced (``interval``) so that it does not take CPU it would only turn into a
fresher matte of the same size.

:class:`MatteWorker` owns the frame step's matting half (:meth:`FrameStep.matte`) and the
:class:`~livebg.live.ratio.RatioControl` that sets its input size: the live loop hands it each frame
with :meth:`MatteWorker.submit` and takes the newest matte with :meth:`MatteWorker.latest`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Hashable
from dataclasses import dataclass

from livebg.frames import Frame
from livebg.live.ratio import RatioControl
from livebg.live.shutdown import uninterrupted
from livebg.step import FrameStep, Matted


@dataclass(frozen=True)
class Held:
    """The newest matte: ``item`` (the frame it was computed from, with its matte), the ``stream`` that
    frame belongs to and the downsample ``ratio`` the network saw it at (``None``: no network ran)."""

    item: Matted
    stream: Hashable
    ratio: float | None


class MatteWorker:
    """Runs ``step.matte`` on the newest submitted frame, one at a time, in a thread of its own, starting
    a new matte no sooner than ``interval`` seconds (times ``control.stretch``) after the previous one
    began; ``control`` is fed each matte's time and the process's CPU clock and sets the session's ratio
    (see :class:`~livebg.live.ratio.RatioControl`; its target rate is ``1 / interval``).

    Frames submitted while the network is busy replace each other: only the newest waits. An exception
    in the thread is raised again by the next :meth:`latest` or :meth:`wait`. Use it as a context
    manager: leaving stops the thread after the matte in progress.
    """

    def __init__(self, step: FrameStep, control: RatioControl, interval: float = 0.0) -> None:
        self.step = step
        self.control = control
        self.interval = interval
        self._pending: tuple[Frame, Hashable] | None = None
        self._held: Held | None = None
        self._error: BaseException | None = None
        self._changed = threading.Condition()
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="livebg-matte", daemon=True)
        self._thread.start()

    def submit(self, frame: Frame, stream: Hashable) -> None:
        """Give the worker ``frame`` of ``stream`` (a new stream resets the session's state) to matte, even
        where the background needs none (a matte view). Returns at once."""
        with self._changed:
            self._pending = (frame, stream)
            self._changed.notify_all()

    def latest(self, stream: Hashable) -> Held | None:
        """The newest matte of ``stream``, or ``None`` before its first."""
        with self._changed:
            self._raise()
            held = self._held
        return held if held is not None and held.stream == stream else None

    def wait(self, stream: Hashable, timeout: float | None = None) -> Held | None:
        """The newest matte of ``stream``, waiting up to ``timeout`` seconds for its first."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._changed:
            while True:
                self._raise()
                held = self._held
                if held is not None and held.stream == stream:
                    return held
                left = None if deadline is None else deadline - time.monotonic()
                if self._stop or (left is not None and left <= 0):
                    return None
                self._changed.wait(left)

    def close(self) -> None:
        """Stop the thread once the matte in progress is done; idempotent."""
        with self._changed:
            self._stop = True
            self._changed.notify_all()
        uninterrupted(self._thread.join)()

    def __enter__(self) -> MatteWorker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _raise(self) -> None:
        if self._error is not None:
            raise self._error

    def _take(self) -> tuple[Frame, Hashable] | None:
        with self._changed:
            while self._pending is None and not self._stop:
                self._changed.wait()
            pending, self._pending = self._pending, None
            return None if self._stop else pending

    def _run(self) -> None:
        step = self.step
        try:
            while (pending := self._take()) is not None:
                frame, stream = pending
                if step.session is not None:
                    self.control.ready(step.session, frame.size)  # the ratio for this frame size
                began = time.perf_counter()
                item = step.matte([frame], stream=stream, force=True)[0]
                seconds = time.perf_counter() - began
                session = step.session
                ratio = None
                if item.matte is not None and session is not None:
                    ratio = session.current_ratio(*frame.size)  # the one this frame was matted at
                    self.control.update(session, frame.size, seconds, cpu_time=time.process_time())
                with self._changed:
                    self._held = Held(item, stream, ratio)
                    self._changed.notify_all()
                rest = began + self.interval * self.control.stretch - time.perf_counter()
                if rest > 0:
                    with self._changed:
                        self._changed.wait_for(lambda: self._stop, rest)
        except BaseException as error:  # handed to the live loop, which reports it once
            with self._changed:
                self._error = error
                self._changed.notify_all()
