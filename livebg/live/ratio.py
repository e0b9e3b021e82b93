"""Holding a live frame rate by changing the scale at which the network sees the frame.

The matting network's cost grows with the square of the downsample ratio, so live mode steps the ratio
down a ladder when frames take longer than the target rate allows and back up when there is clear
headroom. :class:`RatioController` is the pure decision logic, fed measured times;
:class:`RatioControl` applies its decisions to the session and, through :class:`GraphPreparer`,
compiles the ladder's other ratios in a thread of its own so a later step does not stall the picture.
That thread stops between two ratios when live mode ends: quitting waits at most for the one compile
in progress, never for the rest of the ladder.
"""

from __future__ import annotations

import logging
import math
import statistics
import threading
from collections import deque
from typing import TYPE_CHECKING, Literal

from livebg.errors import UsageError
from livebg.live.shutdown import uninterrupted

if TYPE_CHECKING:
    from livebg.matting.session import MattingSession

log = logging.getLogger(__name__)


def target_rate(target: float | Literal["camera"] | None, camera_fps: float | None) -> float | None:
    """The frame rate to hold: ``target`` itself, or for ``"camera"`` the camera's own rate at most 30
    fps (a 60 fps camera is not worth a coarse matte; a camera that reports none is taken as 30)."""
    if target == "camera":
        return min(camera_fps or 30.0, 30.0)
    return target


class RatioControl:
    """Holds ``target_fps`` (``None``: off, the ratio stays) for one live stream.

    :meth:`update` takes the model-and-composite time of each matted frame. The first one starts a
    :class:`RatioController` whose ladder begins at the ratio the session uses for that frame size,
    and a :class:`GraphPreparer` for the ladder's other ratios; a change the controller decides is
    applied with ``session.set_downsample_ratio``. Use it as a context manager: leaving it stops the
    preparer (see :meth:`close`).
    """

    def __init__(self, target_fps: float | None) -> None:
        self.target_fps = target_fps
        self.controller: RatioController | None = None
        self.preparer: GraphPreparer | None = None

    def update(self, session: MattingSession, size: tuple[int, int], seconds: float) -> None:
        """Feed the ``seconds`` one ``size`` = ``(height, width)`` frame took."""
        if self.target_fps is None:
            return
        if self.controller is None:
            start = session.current_ratio(*size)
            self.controller = RatioController(self.target_fps, start)
            self.preparer = GraphPreparer(session, size, [r for r in self.controller.ratios if r != start])
        ratio = self.controller.update(seconds)
        if ratio is not None:
            session.set_downsample_ratio(ratio)
            log.info("downsample ratio %.3g to hold %g fps", ratio, self.target_fps)

    def close(self) -> None:
        """Stop the preparer between two ratios and wait for the compile in progress; idempotent."""
        if self.preparer is not None:
            self.preparer.close()

    def __enter__(self) -> RatioControl:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class GraphPreparer:
    """Calls ``session.prepare(height, width, ratio)`` for each of ``ratios`` in order, in a thread of
    its own, so that moving to one later does not stall the live picture while it compiles.

    ``prepared`` lists the ratios done. :meth:`close` asks the thread to stop before the next ratio and
    waits for the one in progress (a compile cannot be interrupted, and a runtime still compiling when
    the process exits can abort it); a Ctrl-C during that wait is absorbed. A ratio that fails to
    prepare ends the thread quietly: the live loop compiles it itself if it ever gets there.
    """

    def __init__(self, session: MattingSession, size: tuple[int, int], ratios: list[float]) -> None:
        self.session = session
        self.size = size
        self.ratios = ratios
        self.prepared: list[float] = []
        self._stop = threading.Event()
        # Waited for through an Event, not join(): a join that Ctrl-C interrupts can take a running
        # thread for stopped.
        self._done = threading.Event()
        threading.Thread(target=self._run, name="livebg-prepare", daemon=True).start()

    def _run(self) -> None:
        try:
            for ratio in self.ratios:
                if self._stop.is_set():
                    return
                try:
                    self.session.prepare(*self.size, ratio)
                except Exception as exc:  # see the class docstring
                    log.debug("could not prepare ratio %.3g ahead of time: %s", ratio, exc)
                    return
                self.prepared.append(ratio)
        finally:
            self._done.set()

    def stop(self) -> None:
        """Ask the thread to stop before the next ratio; returns at once."""
        self._stop.set()

    def close(self) -> None:
        """:meth:`stop`, then wait for the ratio in progress; idempotent."""
        self.stop()
        uninterrupted(self._done.wait)()


class RatioController:
    """Chooses the downsample ratio from measured per-frame processing times.

    The ratios form a ladder from ``max_ratio`` (the starting ratio: pass the session's
    ``current_ratio(height, width)``) down to ``min_ratio``, each rung ``step`` times the one above.
    Decisions use the median of the last ``window`` times, so a single slow frame (a hiccup of the OS
    or the camera) changes nothing; after each change the first ``settle_frames`` times are ignored
    (they include compiling the graph for the new size) and the window fills afresh.

    - Down when the median time exceeds the frame budget (``1 / target_fps`` seconds): as many rungs as
      that time, scaled with the square of the ratio, says are needed, at least one. The fixed part of
      the time (decoding, compositing) does not shrink, so the estimate errs towards too few rungs and
      the next window corrects it; a far too slow start (a large frame on a slow machine) reaches its
      rung in one step instead of one window per rung.
    - Up one rung after ``hold_frames`` frames in a row below ``raise_below`` times the budget.
    - Hysteresis: a rung that proved too slow is not tried again for ``backoff_frames`` frames, and that
      wait doubles (up to ``max_backoff_frames``) each time the rung fails again, so the ratio settles
      instead of oscillating between a rung that is just too slow and the one below.
    """

    def __init__(
        self,
        target_fps: float,
        max_ratio: float = 0.5,
        *,
        min_ratio: float = 0.125,
        step: float = 0.75,
        window: int = 9,
        settle_frames: int = 3,
        raise_below: float = 0.7,
        hold_frames: int = 30,
        backoff_frames: int = 150,
        max_backoff_frames: int = 1800,
    ) -> None:
        if not target_fps > 0:
            raise UsageError(f"target frame rate {target_fps!r} is not accepted; give a number above 0")
        if not 0 < max_ratio <= 1:
            raise UsageError(f"downsample ratio {max_ratio!r} is not accepted; give a number in (0, 1]")
        if not 0 < min_ratio <= 1:
            raise UsageError(f"minimum ratio {min_ratio!r} is not accepted; give a number in (0, 1]")
        if not 0 < step < 1:
            raise UsageError(f"ratio step {step!r} is not accepted; give a factor between 0 and 1")
        if not 0 < raise_below < 1:
            raise UsageError(f"raise_below {raise_below!r} is not accepted; give a fraction between 0 and 1")
        self.target_fps = float(target_fps)
        self.budget = 1.0 / self.target_fps
        self.ratios = _ladder(max_ratio, min(min_ratio, max_ratio), step)
        self.settle_frames = settle_frames
        self.raise_below = raise_below
        self.hold_frames = max(1, hold_frames)
        self.backoff_frames = backoff_frames
        self.max_backoff_frames = max(backoff_frames, max_backoff_frames)
        self._level = 0
        self._frame = 0
        self._times: deque[float] = deque(maxlen=max(1, window))
        self._skip = 0
        self._headroom = 0
        # rung -> (frame when it last proved too slow, frames to wait before trying it again)
        self._too_slow: dict[int, tuple[int, int]] = {}

    @property
    def ratio(self) -> float:
        """The current downsample ratio."""
        return self.ratios[self._level]

    @property
    def typical_time(self) -> float | None:
        """Median processing time at the current ratio in seconds (``None`` until the window is full)."""
        if len(self._times) < (self._times.maxlen or 1):
            return None
        return statistics.median(self._times)

    def update(self, seconds: float) -> float | None:
        """Feed the processing time of one frame; returns the new ratio when it changes, else ``None``."""
        self._frame += 1
        if self._skip > 0:
            self._skip -= 1
            return None
        self._times.append(seconds)
        typical = self.typical_time
        if typical is None:
            return None
        if typical > self.budget:
            self._headroom = 0
            if self._level + 1 < len(self.ratios):
                self._mark_too_slow(self._level)
                return self._move(self._rungs_down(typical))
            return None
        if typical < self.raise_below * self.budget and self._level > 0:
            self._headroom += 1
            if self._headroom >= self.hold_frames and self._may_try(self._level - 1):
                return self._move(-1)
        else:
            self._headroom = 0
        return None

    def _rungs_down(self, typical: float) -> int:
        """Rungs to descend so that ``typical``, scaled with the ratio squared, fits the budget."""
        rungs = 1
        while self._level + rungs + 1 < len(self.ratios):
            scale = self.ratios[self._level + rungs] / self.ratio
            if typical * scale * scale <= self.budget:
                break
            rungs += 1
        return rungs

    def _mark_too_slow(self, level: int) -> None:
        previous = self._too_slow.get(level)
        if previous is None or self._frame - previous[0] > 2 * self.max_backoff_frames:
            wait = self.backoff_frames  # a failure long ago says little about today's load
        else:
            wait = min(2 * previous[1], self.max_backoff_frames)
        self._too_slow[level] = (self._frame, wait)

    def _may_try(self, level: int) -> bool:
        mark = self._too_slow.get(level)
        return mark is None or self._frame - mark[0] >= mark[1]

    def _move(self, direction: int) -> float:
        self._level += direction
        self._times.clear()
        self._skip = self.settle_frames
        self._headroom = 0
        return self.ratio


def _ladder(top: float, bottom: float, step: float) -> tuple[float, ...]:
    """``top``, ``top * step``, ... while above ``bottom``, then ``bottom`` (rounded to 4 decimals so the
    same rung always names the same compiled graph). A last rung less than half a step above
    ``bottom`` becomes ``bottom`` rather than a rung of its own that would gain nothing."""
    rungs = [round(top, 4)]
    while rungs[-1] * step > bottom * 1.0001:
        rungs.append(round(rungs[-1] * step, 4))
    if rungs[-1] > bottom:
        if len(rungs) > 1 and rungs[-1] * math.sqrt(step) < bottom:
            rungs[-1] = round(bottom, 4)
        else:
            rungs.append(round(bottom, 4))
    return tuple(rungs)
