"""Live statistics stay bounded however long a session runs, and still count every frame."""

from __future__ import annotations

import math
import time

import pytest

from livebg.live.stats import WINDOW, LiveStats


def test_per_frame_figures_are_kept_for_the_latest_window_only() -> None:
    stats = LiveStats()
    frames = 3 * WINDOW
    for i in range(frames):
        # Latency 10 ms for the first two windows' worth, then 30 ms.
        latency = 0.01 if i < 2 * WINDOW else 0.03
        stats.add_frame(captured_at=i / 30 - latency, output_at=i / 30)
    assert stats.frames == frames
    assert len(stats.latencies) == len(stats.frame_times) == WINDOW
    assert stats.frame_times[0] == pytest.approx((frames - WINDOW) / 30)  # the oldest kept
    assert stats.latency_percentile(50) == pytest.approx(0.03)  # over the window only
    assert stats.recent_fps == pytest.approx(30)


def test_counts_and_rates() -> None:
    stats = LiveStats(captured=10, seconds=2.0)
    assert math.isnan(stats.latency_percentile(50)) and stats.recent_fps == 0.0
    for i in range(4):
        stats.add_frame(captured_at=i, output_at=i + 0.1)
    assert (stats.frames, stats.dropped, stats.fps) == (4, 6, 2.0)
    assert stats.latency_percentile(95) == pytest.approx(0.1)


def test_startup_phases_are_timed_in_order_and_summed() -> None:
    stats = LiveStats()
    with stats.startup_phase("camera"):
        time.sleep(0.01)
    stats.startup["model"] = 1.25
    assert list(stats.startup) == ["camera", "model"] and 0.01 <= stats.startup["camera"] < 1
    assert stats.startup_summary() == (
        f"first picture {stats.startup['camera'] + 1.25:.1f} s after live mode started "
        f"(camera {stats.startup['camera']:.2f} s, model 1.25 s)"
    )


def test_cpu_use_over_the_latest_second_and_the_run() -> None:
    stats = LiveStats(cpu_budget=1.5, seconds=10.0, cpu_seconds=12.0)
    assert math.isnan(stats.recent_cores)
    for i in range(100):  # 30 fps; 20 ms of CPU a frame, then 40 ms for the latest second
        stats.add_frame(
            captured_at=i / 30 - 0.01, output_at=i / 30, cpu_time=0.02 * min(i, 69) + 0.04 * max(0, i - 69)
        )
    assert stats.recent_cores == pytest.approx(1.2)
    assert stats.cpu_cores == pytest.approx(1.2)
    assert stats.summary().endswith(", cpu 1.20 cores of a budget of 1.5")


def test_the_summary_counts_the_frames_matted_at_each_ratio() -> None:
    stats = LiveStats(captured=12, seconds=2.0, cpu_seconds=1.0)
    for i in range(10):
        stats.add_frame(captured_at=i / 5, output_at=i / 5 + 0.05, ratio=0.375 if i < 3 else 0.25)
    assert stats.ratios == {0.375: 3, 0.25: 7}
    assert stats.summary() == (
        "live: 10 frames in 2.0 s (5.0 fps), 2 dropped at capture, latency p50 50 ms, p95 50 ms, "
        "cpu 0.50 cores, ratio 0.375 x3, 0.25 x7"
    )
    stats.ratios.clear()  # the network never ran (a background that needs none)
    assert stats.summary().endswith("p95 50 ms, cpu 0.50 cores")
