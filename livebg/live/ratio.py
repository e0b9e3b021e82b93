"""Holding a live frame rate by changing the scale at which the network sees the frame, and how often
it runs.

The matting network's cost grows with the square of the downsample ratio, so live mode steps the ratio
down a ladder when frames take longer than the target rate allows (or, with a CPU budget, take more CPU
than it allows) and back up when there is clear headroom. The ladder ends at a floor in pixels, not in
ratio (:func:`floor_ratio`): below it the matte collapses. Where even the floor cannot hold the rate,
the network runs on every second, third, ... frame and the frames between are composited with the last
matte (:func:`rungs`: the policy, one small function). :class:`RatioController` is the pure decision
logic, fed measured times; :class:`RatioControl` applies its decisions to the session, says which
frames to matte and, through :class:`GraphPreparer`, compiles the ladder's other ratios in a thread of
its own so a later step does not stall the picture. That thread stops between two ratios when live
mode ends: quitting waits at most for the one compile in progress, never for the rest of the ladder.
"""

from __future__ import annotations

import logging
import math
import statistics
import threading
from collections import deque
from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal, NamedTuple

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

MAX_EVERY = 4
"""The most frames one matte serves when even the floor cannot hold the rate (every 4th: 7.5 mattes a
second at 30 fps)."""


class Rung(NamedTuple):
    """One setting of the ladder: the network sees frames at ``ratio`` and runs on every ``every``-th
    frame (1: every frame); the frames between take the last matte."""

    ratio: float
    every: int = 1


def floor_ratio(height: int, width: int) -> float:
    """The lowest ratio for a ``height`` x ``width`` frame: the one that brings its longer side to
    :data:`MIN_INPUT_SIDE` pixels (1 for frames that small or smaller), rounded to 4 decimals."""
    return round(min(1.0, MIN_INPUT_SIDE / max(height, width)), 4)


def rungs(ratios: Sequence[float], every: int | None = None, max_every: int = MAX_EVERY) -> tuple[Rung, ...]:
    """The ladder of settings, dearest first: each of ``ratios`` on every frame, then the last (the
    floor) on every 2nd, 3rd, ... up to every ``max_every``-th frame: a lower frame rate of the matte
    rather than a coarser matte. ``every``: the network runs on every ``every``-th frame at each
    ratio (a fixed choice, for experiments: every frame at a smaller ratio against every k-th at a
    larger one)."""
    if every is not None:
        return tuple(Rung(ratio, every) for ratio in ratios)
    return (*(Rung(ratio) for ratio in ratios), *(Rung(ratios[-1], k) for k in range(2, max_every + 1)))


def target_rate(target: float | Literal["camera"] | None, camera_fps: float | None) -> float | None:
    """The frame rate to hold: ``target`` itself, or for ``"camera"`` the camera's own rate at most 30
    fps (a 60 fps camera is not worth a coarse matte; a camera that reports none is taken as 30)."""
    if target == "camera":
        return min(camera_fps or 30.0, 30.0)
    return target


class RatioControl:
    """Holds ``target_fps`` (``None``: off, the ratio stays) for one live stream, within ``cpu_budget``
    cores if given, and says which frames to matte.

    The loop asks :meth:`due` before each frame: ``True`` means run the network, ``False`` means
    composite the frame with the last matte. ``every`` fixes how often the network runs (every
    ``every``-th frame; ``None``: every frame, or less often where the ratio's floor cannot hold the
    rate). :meth:`update` takes the time of each frame (matted or held, composite included) and the
    process's CPU clock after it. The first one starts a :class:`RatioController` whose ladder runs
    from the ratio the session uses for that frame size down to :func:`floor_ratio` for it, and a
    :class:`GraphPreparer` for the ladder's other ratios; a new frame size starts them afresh. A change
    the controller decides is applied with ``session.set_downsample_ratio``, and the next frame is
    matted. Use it as a context manager: leaving it stops the preparer (see :meth:`close`).
    """

    def __init__(
        self, target_fps: float | None, *, every: int | None = None, cpu_budget: float | None = None
    ) -> None:
        self.target_fps = target_fps
        self.cpu_budget = cpu_budget
        self.controller: RatioController | None = None
        self.preparer: GraphPreparer | None = None
        self._fixed_every = every
        self._size: tuple[int, int] | None = None
        self._ratio: float | None = None  # the session's own ratio, before the controller changed it
        self._held: int | None = None  # frames since the last matted one; None: matte the next
        # The frames since the controller was last fed: their seconds and count, and the CPU clock then.
        self._seconds = 0.0
        self._frames = 0
        self._cpu_at: float | None = None

    @property
    def every(self) -> int:
        """The network runs on every ``every``-th frame (1: on each)."""
        if self.controller is not None:
            return self.controller.every
        return self._fixed_every or 1

    def due(self) -> bool:
        """Whether the next frame is to be matted (else it takes the last matte)."""
        return self._held is None or self._held + 1 >= self.every

    def update(
        self,
        session: MattingSession,
        size: tuple[int, int],
        seconds: float,
        *,
        matted: bool = True,
        cpu_time: float | None = None,
    ) -> None:
        """Feed the ``seconds`` one ``size`` = ``(height, width)`` frame took, whether the network ran
        on it, and ``cpu_time``, the process's CPU clock after it (``time.process_time()``; ``None``:
        the budget is not checked)."""
        self._held = 0 if matted or self._held is None else self._held + 1
        if self.target_fps is None:
            return
        controller = self.controller
        if controller is None or size != self._size:
            controller = self._start(session, size, self.target_fps)
        self._seconds += seconds
        self._frames += 1
        if self._frames < self.every:  # one sample per matte: the mean over the frames it serves
            return
        cpu = None if cpu_time is None or self._cpu_at is None else (cpu_time - self._cpu_at) / self._frames
        seconds, self._seconds, self._frames, self._cpu_at = self._seconds / self._frames, 0.0, 0, cpu_time
        rung = controller.update(seconds, cpu)
        if rung is not None:
            session.set_downsample_ratio(rung.ratio)
            self._held = None
            within = f" within a CPU budget of {self.cpu_budget:g}" if self.cpu_budget is not None else ""
            log.info(
                "downsample ratio %.3g, %s, to hold %g fps%s",
                rung.ratio,
                describe_every(rung.every),
                self.target_fps,
                within,
            )

    def _start(self, session: MattingSession, size: tuple[int, int], target_fps: float) -> RatioController:
        """A controller and a preparer for frames of ``size``, starting from the session's own ratio."""
        if self.controller is None:
            self._ratio = session.downsample_ratio
        else:
            self.close()
            session.set_downsample_ratio(self._ratio)
        start = session.current_ratio(*size)
        self._size = size
        self.controller = RatioController(
            target_fps,
            start,
            min_ratio=floor_ratio(*size),
            every=self._fixed_every,
            max_every=MAX_EVERY,
            cpu_budget=self.cpu_budget,
        )
        self.preparer = GraphPreparer(session, size, [r for r in self.controller.ratios if r != start])
        self._seconds, self._frames, self._cpu_at = 0.0, 0, None
        return self.controller

    def close(self) -> None:
        """Stop the preparer between two ratios and wait for the compile in progress; idempotent."""
        if self.preparer is not None:
            self.preparer.close()

    def __enter__(self) -> RatioControl:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def describe_every(every: int) -> str:
    """``"matte every frame"``, ``"matte every 2nd frame"``, ... for logs and the HUD."""
    if every == 1:
        return "matte every frame"
    suffix = "th" if 10 <= every % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(every % 10, "th")
    return f"matte every {every}{suffix} frame"


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
    """Chooses the downsample ratio, and how often the network runs, from measured per-frame times.

    The ratios form a ladder from ``max_ratio`` (the starting ratio: pass the session's
    ``current_ratio(height, width)``) down to ``min_ratio`` (:func:`floor_ratio`), each rung ``step``
    times the one above; :func:`rungs` adds the settings below the floor (``every``, ``max_every``;
    the default ``max_every=1`` adds none). Each :meth:`update` is one sample: the mean time per frame
    over the frames one matte serves, and the CPU time the process took per frame meanwhile. A sample
    is measured against the frame budget (``1 / target_fps`` seconds) and, with ``cpu_budget`` cores,
    against that budget's share of a frame: its load (:func:`~livebg.live.budget.frame_load`), 1 being
    exactly full. Decisions use the median of the last ``window`` samples, so a single slow frame (a
    hiccup of the OS or the camera) changes nothing; after each change the first ``settle_frames``
    samples are ignored (they include compiling the graph for the new size) and the window fills afresh.

    - Down when the median load exceeds 1: as many rungs as that load, scaled with the network's cost
      (the ratio squared over ``every``), says are needed, at least one. The fixed part of the time
      (decoding, compositing) does not shrink, so the estimate errs towards too few rungs and the next
      window corrects it; a far too slow start (a large frame on a slow machine) reaches its rung in
      one step instead of one window per rung.
    - Up one rung after ``hold_frames`` samples in a row below a load of ``raise_below``.
    - Hysteresis: a rung that proved too slow is not tried again for ``backoff_frames`` samples, and
      that wait doubles (up to ``max_backoff_frames``) each time the rung fails again, so the setting
      settles instead of oscillating between a rung that is just too slow and the one below.
    """

    def __init__(
        self,
        target_fps: float,
        max_ratio: float = 0.5,
        *,
        min_ratio: float = 0.125,
        step: float = 0.75,
        every: int | None = None,
        max_every: int = 1,
        cpu_budget: float | None = None,
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
        if every is not None and not every >= 1:
            raise UsageError(f"matte every {every!r} frames is not accepted; give a whole number from 1")
        self.target_fps = float(target_fps)
        self.budget = 1.0 / self.target_fps
        self.cpu_budget = cpu_budget
        self.ratios = _ladder(max_ratio, min(min_ratio, max_ratio), step)
        self.rungs = rungs(self.ratios, every, max_every)
        self.settle_frames = settle_frames
        self.raise_below = raise_below
        self.hold_frames = max(1, hold_frames)
        self.backoff_frames = backoff_frames
        self.max_backoff_frames = max(backoff_frames, max_backoff_frames)
        self._level = 0
        self._frame = 0
        self._times: deque[float] = deque(maxlen=max(1, window))
        self._cpu: deque[float] = deque(maxlen=max(1, window))
        self._skip = 0
        self._headroom = 0
        # rung -> (sample when it last proved too slow, samples to wait before trying it again)
        self._too_slow: dict[int, tuple[int, int]] = {}

    @property
    def rung(self) -> Rung:
        """The current setting."""
        return self.rungs[self._level]

    @property
    def ratio(self) -> float:
        """The current downsample ratio."""
        return self.rung.ratio

    @property
    def every(self) -> int:
        """The network runs on every ``every``-th frame."""
        return self.rung.every

    @property
    def typical_time(self) -> float | None:
        """Median time per frame at the current setting in seconds (``None`` until the window is full)."""
        if len(self._times) < (self._times.maxlen or 1):
            return None
        return statistics.median(self._times)

    @property
    def typical_load(self) -> float | None:
        """Median load at the current setting, 1 being exactly full (``None`` until the window is full)."""
        typical = self.typical_time
        if typical is None:
            return None
        cpu = statistics.median(self._cpu) if len(self._cpu) == len(self._times) else None
        return frame_load(typical, cpu, self.budget, self.cpu_budget)

    def update(self, seconds: float, cpu_seconds: float | None = None) -> Rung | None:
        """Feed one sample: ``seconds`` per frame and the process's ``cpu_seconds`` per frame (``None``:
        not measured); returns the new setting when it changes, else ``None``."""
        self._frame += 1
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
            if self._level + 1 < len(self.rungs):
                self._mark_too_slow(self._level)
                return self._move(self._rungs_down(load))
            return None
        if load < self.raise_below and self._level > 0:
            self._headroom += 1
            if self._headroom >= self.hold_frames and self._may_try(self._level - 1):
                return self._move(-1)
        else:
            self._headroom = 0
        return None

    def _rungs_down(self, load: float) -> int:
        """Rungs to descend so that ``load``, scaled with the network's cost, fits."""
        rungs = 1
        while self._level + rungs + 1 < len(self.rungs):
            if load * _cost(self.rungs[self._level + rungs]) / _cost(self.rung) <= 1:
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

    def _move(self, direction: int) -> Rung:
        self._level += direction
        self._times.clear()
        self._cpu.clear()
        self._skip = self.settle_frames
        self._headroom = 0
        return self.rung


def _cost(rung: Rung) -> float:
    """The network's share of a frame's cost at ``rung``, up to a constant."""
    return rung.ratio * rung.ratio / rung.every


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
