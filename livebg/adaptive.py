"""Holding a live frame rate by changing the scale at which the network sees the frame.

The matting network's cost grows with the square of the downsample ratio, so live mode steps the ratio
down a ladder when frames take longer than the target rate allows and back up when there is clear
headroom. Pure logic: the live loop feeds it measured times and applies the ratio it returns.
"""

from __future__ import annotations

import math
import statistics
from collections import deque

from livebg.errors import UsageError


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
