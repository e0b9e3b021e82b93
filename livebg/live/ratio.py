"""Choosing the scale at which the network sees live frames, so that its mattes keep their pace.

Live mode shows every camera frame with the newest matte (:mod:`livebg.live.worker`); the network
starts a new one at a steady pace. Its cost grows with the square of the downsample ratio, so the
ratio steps down a ladder when mattes take longer than the pace allows (or, with a CPU budget, the
process takes more CPU than it allows) and back up when there is clear headroom. The ladder ends at a
floor in pixels, not in ratio (:func:`floor_ratio`): below it the matte collapses, so where even the
floor is too slow the mattes come less often instead. :class:`RatioController` is the pure decision
logic, fed measured times; :class:`RatioControl` applies its decisions to the session and, through
:class:`GraphPreparer`, compiles the ladder's other ratios in a thread of its own so a later step does
not wait for a compile. That thread stops between two ratios when live mode ends: quitting waits at
most for the one compile in progress, never for the rest of the ladder.
"""

from __future__ import annotations

import logging
import math
import statistics
import threading
import time
from collections import deque
from typing import TYPE_CHECKING, Literal

from livebg.errors import UsageError
from livebg.live.budget import frame_load
from livebg.live.shutdown import uninterrupted

if TYPE_CHECKING:
    from livebg.matting.session import MattingSession

log = logging.getLogger(__name__)

MIN_INPUT_SIDE = 160
"""The longer side, in pixels, of the smallest downsampled frame live mode gives the network: below it
the matte collapses. Measured with RVM MobileNetV3 (PyTorch, fast guided filter) against the P3M
portraits' alphas, the six stills scaled to a longer side of 1280 px and shown four times each; MAD
x1e3 by the network input's longer side, mean over the six (worst still): 480 px 6.3 (11), 320 px 6.8
(11), 240 px 7.8 (12), 192 px 9.2 (13), 160 px 12 (21), 128 px 51 (221), 112 px 91 (444), 80 px 167
(479). So the floor is ratio 0.25 for 360x640, 0.125 for 720p and 0.0833 for 1080p."""

TIME_SLACK = 2.0
"""How far behind its pace a matte may fall before the ratio steps down: twice the interval. Against
ground truth, a frame more of age costs about 3% of mean absolute error, a rung down the ladder about
25%: the mattes keep their size until they are far behind."""

MAX_STRETCH = 4.0
"""The most the pace of mattes slows to stay within a CPU budget before the ratio steps down: a quarter
of the rate asked for (at the default pace, 1.9 mattes a second at 30 fps)."""

_STRETCH_STEP = 1.25


def floor_ratio(height: int, width: int) -> float:
    """The lowest ratio for a ``height`` x ``width`` frame: the one that brings its longer side to
    :data:`MIN_INPUT_SIDE` pixels (1 for frames that small or smaller), rounded to 4 decimals."""
    return round(min(1.0, MIN_INPUT_SIDE / max(height, width)), 4)


def target_rate(target: float | Literal["camera"] | None, camera_fps: float | None) -> float | None:
    """The frame rate the pace of mattes is counted in: ``target`` itself, or for ``"camera"``
    :func:`camera_rate`; ``None`` (the ratio stays) for ``None``."""
    if target == "camera":
        return camera_rate(camera_fps)
    return target


def camera_rate(camera_fps: float | None) -> float:
    """The camera's own rate at most 30 fps (a 60 fps camera is not worth a coarse matte; a camera that
    reports none is taken as 30)."""
    return min(camera_fps or 30.0, 30.0)


class RatioControl:
    """Holds ``target_rate`` mattes a second (``None``: off, the ratio stays) for one live stream, within
    ``cpu_budget`` cores if given.

    :meth:`ready` before each matte starts, for a new frame size, a :class:`RatioController` whose
    ladder runs from the ratio the session uses for that size down to :func:`floor_ratio`;
    :meth:`update` takes the time of each matte and the process's CPU clock after it, and the first
    one starts a :class:`GraphPreparer` for the ladder's other ratios. While the preparer compiles,
    the times are not counted (the compiles take the same cores). A change the controller decides is
    applied with ``session.set_downsample_ratio``; :attr:`stretch` slows the pace where the budget
    needs it. Use it as a context manager: leaving it stops the preparer (see :meth:`close`).
    """

    def __init__(self, target_rate: float | None, *, cpu_budget: float | None = None) -> None:
        self.target_rate = target_rate
        self.cpu_budget = cpu_budget
        self.controller: RatioController | None = None
        self.preparer: GraphPreparer | None = None
        self._size: tuple[int, int] | None = None
        self._ratio: float | None = None  # the session's own ratio, before the controller changed it
        self._clock_at: tuple[float, float] | None = None  # wall and CPU clocks at the previous matte

    def update(
        self, session: MattingSession, size: tuple[int, int], seconds: float, *, cpu_time: float | None = None
    ) -> None:
        """Feed the ``seconds`` one matte of a ``size`` = ``(height, width)`` frame took, and
        ``cpu_time``, the process's CPU clock after it (``time.process_time()``; ``None``: the budget
        is not checked)."""
        if self.target_rate is None:
            return
        controller = self._controller(session, size, self.target_rate)
        now, cpu = time.perf_counter(), None
        if cpu_time is not None and self._clock_at is not None and now > self._clock_at[0]:
            # The process's cores since the previous matte, as CPU seconds per interval.
            cpu = (cpu_time - self._clock_at[1]) / (now - self._clock_at[0]) / self.target_rate
        self._clock_at = None if cpu_time is None else (now, cpu_time)
        if self.preparer is None:
            start = controller.ratios[0]
            self.preparer = GraphPreparer(session, size, [r for r in controller.ratios if r != start])
        if not self.preparer.done:
            return
        stretch = controller.stretch
        ratio = controller.update(seconds, cpu)
        if controller.stretch != stretch:
            log.info(
                "%.2g mattes a second at most, to stay within a CPU budget of %g",
                self.target_rate / controller.stretch,
                self.cpu_budget,
            )
        if ratio is not None:
            session.set_downsample_ratio(ratio)
            within = f" within a CPU budget of {self.cpu_budget:g}" if self.cpu_budget is not None else ""
            log.info("downsample ratio %.3g, to hold %.3g mattes a second%s", ratio, self.target_rate, within)

    @property
    def stretch(self) -> float:
        """The factor on the interval between mattes (above 1 only to stay within a CPU budget)."""
        return self.controller.stretch if self.controller is not None else 1.0

    def ready(self, session: MattingSession, size: tuple[int, int]) -> None:
        """Start the controller for frames of ``size`` = ``(height, width)`` if it is not (nothing
        without a target rate): call it before a matte, so the first one runs at the starting ratio.

        The ladder starts from the ratio the session uses for that size (its own, or automatic). The
        first :meth:`update` then starts a :class:`GraphPreparer` for the ladder's other ratios (after
        the first matte: it would slow the first picture)."""
        if self.target_rate is not None:
            self._controller(session, size, self.target_rate)

    def _controller(
        self, session: MattingSession, size: tuple[int, int], target_rate: float
    ) -> RatioController:
        if self.controller is not None and size == self._size:
            return self.controller
        if self.controller is None:
            self._ratio = session.downsample_ratio
        else:
            self.close()
            session.set_downsample_ratio(self._ratio)
        start = session.current_ratio(*size)
        self._size = size
        self.controller = RatioController(
            target_rate,
            start,
            min_ratio=floor_ratio(*size),
            slack=TIME_SLACK,
            cpu_budget=self.cpu_budget,
        )
        self.preparer = None
        self._clock_at = None
        return self.controller

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

    @property
    def done(self) -> bool:
        """Whether the thread has finished (every ratio prepared, stopped, or one failed)."""
        return self._done.is_set()

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
    """Chooses the downsample ratio from measured times, to hold ``target_rate`` samples a second.

    The ratios form a ladder from ``max_ratio`` (the starting ratio: pass the session's
    ``current_ratio(height, width)``) down to ``min_ratio`` (:func:`floor_ratio`), each rung ``step``
    times the one above. Each :meth:`update` is one sample: the seconds one matte took, and the CPU
    seconds the process took over one interval of ``1 / target_rate`` seconds meanwhile. A sample is
    measured against ``slack`` intervals and, with ``cpu_budget`` cores, against that budget's share of
    one: its load (:func:`~livebg.live.budget.frame_load`), 1 being exactly full. Decisions use the median
    of the last ``window`` samples, so a single slow matte (a hiccup of the OS or the camera) changes
    nothing; after each change the first ``settle_samples`` are ignored (they include compiling the
    graph for the new size) and the window fills afresh.

    - Down when the median load exceeds 1: as many rungs as that load, scaled with the network's cost
      (the ratio squared), says are needed, at least one. The fixed part of the time does not shrink,
      so the estimate errs towards too few rungs and the next window corrects it; a far too slow start
      (a large frame on a slow machine) reaches its rung in one step instead of one window per rung.
    - Up one rung after ``hold_samples`` in a row below a load of ``raise_below``.
    - Over the CPU budget the pace slows before the ratio steps down: :attr:`stretch` (the factor on
      the interval between mattes, 1 at first) grows with the CPU load (by its square, from a quarter
      to a double a window: the part outside the network does not shrink) up to :data:`MAX_STRETCH`;
      only then do the rungs follow. On the way back the ratio climbs first, then the pace. Against
      ground truth a matte up to a second old at ratio 0.4 is far closer to the truth than one a
      quarter of a second old at 0.17 (``held_mattes.py``: MAD 4.0 against 9.2 at 720p).
    - Hysteresis: a rung that proved too slow is not tried again for ``backoff_samples``, and that wait
      doubles (up to ``max_backoff_samples``) each time the rung fails again, so the setting settles
      instead of oscillating between a rung that is just too slow and the one below.
    """

    def __init__(
        self,
        target_rate: float,
        max_ratio: float = 0.5,
        *,
        min_ratio: float = 0.125,
        step: float = 0.75,
        cpu_budget: float | None = None,
        window: int = 9,
        settle_samples: int = 2,
        raise_below: float = 0.7,
        hold_samples: int = 12,
        backoff_samples: int = 30,
        max_backoff_samples: int = 360,
        slack: float = 1.0,
    ) -> None:
        if not target_rate > 0:
            raise UsageError(f"target rate {target_rate!r} is not accepted; give a number above 0")
        if not 0 < max_ratio <= 1:
            raise UsageError(f"downsample ratio {max_ratio!r} is not accepted; give a number in (0, 1]")
        if not 0 < min_ratio <= 1:
            raise UsageError(f"minimum ratio {min_ratio!r} is not accepted; give a number in (0, 1]")
        if not 0 < step < 1:
            raise UsageError(f"ratio step {step!r} is not accepted; give a factor between 0 and 1")
        if not 0 < raise_below < 1:
            raise UsageError(f"raise_below {raise_below!r} is not accepted; give a fraction between 0 and 1")
        self.target_rate = float(target_rate)
        self.budget = 1.0 / self.target_rate
        self.slack = slack
        self.cpu_budget = cpu_budget
        self.ratios = _ladder(max_ratio, min(min_ratio, max_ratio), step)
        self.settle_samples = settle_samples
        self.raise_below = raise_below
        self.hold_samples = max(1, hold_samples)
        self.backoff_samples = backoff_samples
        self.max_backoff_samples = max(backoff_samples, max_backoff_samples)
        self.stretch = 1.0
        self._level = 0
        self._sample = 0
        self._times: deque[float] = deque(maxlen=max(1, window))
        self._cpu: deque[float] = deque(maxlen=max(1, window))
        self._skip = 0
        self._headroom = 0
        # rung -> (sample when it last proved too slow, samples to wait before trying it again)
        self._too_slow: dict[int, tuple[int, int]] = {}

    @property
    def ratio(self) -> float:
        """The current downsample ratio."""
        return self.ratios[self._level]

    @property
    def typical_time(self) -> float | None:
        """Median time per sample at the current ratio in seconds (``None`` until the window is full)."""
        if len(self._times) < (self._times.maxlen or 1):
            return None
        return statistics.median(self._times)

    @property
    def typical_load(self) -> float | None:
        """Median load at the current ratio, 1 being exactly full (``None`` until the window is full)."""
        typical = self.typical_time
        if typical is None:
            return None
        cpu = statistics.median(self._cpu) if len(self._cpu) == len(self._times) else None
        return frame_load(typical / self.slack, cpu, self.budget, self.cpu_budget)

    def update(self, seconds: float, cpu_seconds: float | None = None) -> float | None:
        """Feed one sample: the ``seconds`` a matte took and the process's ``cpu_seconds`` per interval
        (``None``: not measured); returns the new ratio when it changes, else ``None``."""
        self._sample += 1
        if self._skip > 0:
            self._skip -= 1
            return None
        self._times.append(seconds)
        if cpu_seconds is not None:
            self._cpu.append(cpu_seconds)
        load = self.typical_load
        if load is None:
            return None
        if load > 1:
            self._headroom = 0
            cpu_load = self._cpu_load()
            if cpu_load > 1 and self.stretch < MAX_STRETCH:  # over the CPU budget: the pace slows first
                self.stretch = min(MAX_STRETCH, self.stretch * min(max(cpu_load**2, _STRETCH_STEP), 2.0))
                self._move(0)
            elif self._level + 1 < len(self.ratios):
                self._mark_too_slow(self._level)
                return self._move(self._rungs_down(load))
            return None
        if load < self.raise_below and (self._level > 0 or self.stretch > 1):
            self._headroom += 1
            if self._headroom >= self.hold_samples:
                if self._level > 0 and self._may_try(self._level - 1):  # the size comes back first
                    return self._move(-1)
                if self.stretch > 1:
                    self.stretch = max(1.0, self.stretch / _STRETCH_STEP)
                    self._move(0)
        else:
            self._headroom = 0
        return None

    def _cpu_load(self) -> float:
        """The median CPU load alone (0 without a budget or CPU times)."""
        if self.cpu_budget is None or not self._cpu:
            return 0.0
        return frame_load(0.0, statistics.median(self._cpu), self.budget, self.cpu_budget)

    def _rungs_down(self, load: float) -> int:
        """Rungs to descend so that ``load``, scaled with the network's cost, fits."""
        rungs = 1
        while self._level + rungs + 1 < len(self.ratios):
            if load * (self.ratios[self._level + rungs] / self.ratio) ** 2 <= 1:
                break
            rungs += 1
        return rungs

    def _mark_too_slow(self, level: int) -> None:
        previous = self._too_slow.get(level)
        if previous is None or self._sample - previous[0] > 2 * self.max_backoff_samples:
            wait = self.backoff_samples  # a failure long ago says little about today's load
        else:
            wait = min(2 * previous[1], self.max_backoff_samples)
        self._too_slow[level] = (self._sample, wait)

    def _may_try(self, level: int) -> bool:
        mark = self._too_slow.get(level)
        return mark is None or self._sample - mark[0] >= mark[1]

    def _move(self, direction: int) -> float:
        self._level += direction
        self._times.clear()
        self._cpu.clear()
        self._skip = self.settle_samples
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
