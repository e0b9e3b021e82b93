"""What a live run did, in bounded memory: counts over the whole run, per-frame figures over the latest
:data:`WINDOW` frames (a live session may run for days)."""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

WINDOW = 1800
"""Processed frames whose latency and output instant are kept: one minute at 30 fps."""

_RECENT = 30
"""Frame intervals that the recent rate and CPU use are measured over: a second at 30 fps."""


def _window() -> deque[float]:
    return deque(maxlen=WINDOW)


@dataclass
class LiveStats:
    """Counts over the whole run, and windows over the latest :data:`WINDOW` processed frames:
    ``latencies`` (seconds from capture to the moment the picture was handed to the outputs),
    ``frame_times`` (those moments, ``time.perf_counter()`` seconds) and ``cpu_times`` (the process's
    CPU clock then, ``time.process_time()`` seconds, NaN where not measured), oldest first.
    ``cpu_seconds``: the CPU time the process took over the run's ``seconds``; ``cpu_budget``: the
    cores it was allowed (``None``: no budget). ``startup``: seconds each start-up phase took, in
    order (camera, outputs, model, compile, window, first frame). ``ratios``: how many frames the
    network ran on at each downsample ratio, in the order the ratios were first used (a ladder has a
    handful of rungs); ``matte_times``: when the latest of those mattes were first shown."""

    frames: int = 0
    captured: int = 0
    placeholders: int = 0
    reconnects: int = 0
    resets: int = 0
    seconds: float = 0.0
    latencies: deque[float] = field(default_factory=_window)
    frame_times: deque[float] = field(default_factory=_window)
    cpu_times: deque[float] = field(default_factory=_window)
    cpu_seconds: float = 0.0
    cpu_budget: float | None = None
    virtual_camera_frames: int = 0
    virtual_camera_repeats: int = 0
    recorded: int = 0
    recording_dropped: int = 0
    snapshots: list[Path] = field(default_factory=list)  # one per keypress
    capture_size: tuple[int, int] | None = None
    capture_fps: float | None = None
    startup: dict[str, float] = field(default_factory=dict)
    ratios: dict[float, int] = field(default_factory=dict)
    matte_times: deque[float] = field(default_factory=_window)

    @contextmanager
    def startup_phase(self, name: str) -> Iterator[None]:
        """Times the ``with`` block as start-up phase ``name``."""
        began = time.perf_counter()
        try:
            yield
        finally:
            self.startup[name] = time.perf_counter() - began

    def startup_summary(self) -> str:
        """One line: how long live mode took to its first picture, phase by phase."""
        phases = ", ".join(f"{name} {seconds:.2f} s" for name, seconds in self.startup.items())
        return f"first picture {sum(self.startup.values()):.1f} s after live mode started ({phases})"

    def add_frame(
        self, captured_at: float, output_at: float, cpu_time: float | None = None, ratio: float | None = None
    ) -> None:
        """Count one processed frame captured at ``captured_at`` and output at ``output_at``, when the
        process's CPU clock read ``cpu_time``; ``ratio``: the downsample ratio the network ran at for
        the matte it shows first (``None``: the frame shows a matte shown before, or none)."""
        self.frames += 1
        if ratio is not None:
            self.ratios[ratio] = self.ratios.get(ratio, 0) + 1
            self.matte_times.append(output_at)
        self.latencies.append(output_at - captured_at)
        self.frame_times.append(output_at)
        self.cpu_times.append(math.nan if cpu_time is None else cpu_time)

    @property
    def fps(self) -> float:
        """Processed frames per second of wall time over the whole run."""
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    @property
    def cpu_cores(self) -> float:
        """Cores the process used on average over the whole run (CPU seconds per second)."""
        return self.cpu_seconds / self.seconds if self.seconds > 0 else 0.0

    @property
    def recent_fps(self) -> float:
        """Processed frames per second over the latest second or so (0 before two frames)."""
        return _rate(self.frame_times)

    @property
    def recent_matte_rate(self) -> float:
        """New mattes shown per second over the latest second or so (0 before two)."""
        return _rate(self.matte_times)

    @property
    def recent_cores(self) -> float:
        """Cores the process used over the latest second or so (CPU seconds per second; NaN before two
        frames or where the CPU clock was not read)."""
        first, span = _recent(self.frame_times)
        return (self.cpu_times[-1] - self.cpu_times[first]) / span if span > 0 else math.nan

    @property
    def dropped(self) -> int:
        """Camera frames that were replaced by a newer one before processing could take them."""
        return max(0, self.captured - self.frames)

    def latency_percentile(self, q: float) -> float:
        """The ``q``-th percentile (0-100) of the latency over the window, in seconds (NaN without
        frames)."""
        return float(np.percentile(self.latencies, q)) if self.latencies else float("nan")

    def summary(self) -> str:
        """One line for the log at the end of a run (benchmarks read it: keep its form), e.g. ``live: 88
        frames in 3.0 s (29.3 fps), 2 dropped at capture, latency p50 61 ms, p95 80 ms, cpu 1.90 cores,
        ratio 0.375 x10, 0.25 x78`` (the frames the network ran on at each ratio; left out when it never
        ran)."""
        budget = f" of a budget of {self.cpu_budget:g}" if self.cpu_budget is not None else ""
        line = (
            f"live: {self.frames} frames in {self.seconds:.1f} s ({self.fps:.1f} fps), {self.dropped} "
            f"dropped at capture, latency p50 {1000 * self.latency_percentile(50):.0f} ms, "
            f"p95 {1000 * self.latency_percentile(95):.0f} ms, cpu {self.cpu_cores:.2f} cores{budget}"
        )
        if self.ratios:
            line += ", ratio " + ", ".join(f"{ratio:g} x{count}" for ratio, count in self.ratios.items())
        return line


def _recent(times: deque[float]) -> tuple[int, float]:
    """The index where the latest :data:`_RECENT` intervals of ``times`` begin, and the seconds they
    span (0 before two)."""
    first = max(0, len(times) - _RECENT - 1)
    return first, times[-1] - times[first] if len(times) > 1 else 0.0


def _rate(times: deque[float]) -> float:
    """Events per second over the latest :data:`_RECENT` intervals of ``times`` (0 before two)."""
    first, span = _recent(times)
    return (len(times) - 1 - first) / span if span > 0 else 0.0
