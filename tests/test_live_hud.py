"""The live HUD: rate and latency, the model with its ratio, each stage's median time, the background."""

from __future__ import annotations

from livebg.backgrounds import parse_background
from livebg.compositing import Compositor
from livebg.live.hud import hud_lines
from livebg.live.stats import LiveStats
from livebg.step import FrameStep, StageTimer

from .fakes import DiscSession


def test_hud_shows_rate_latency_model_stage_times_and_state() -> None:
    stats = LiveStats()
    for i in range(11):  # ten intervals of 50 ms: 20 fps, a new matte on every 4th (5 a second)
        stats.add_frame(captured_at=0.05 * i - 0.04, output_at=0.05 * i, ratio=1.0 if i % 4 == 0 else None)
    step = FrameStep(DiscSession(), Compositor(parse_background("#0000ff")), timer=StageTimer())
    for stage, seconds in [("decode", 0.003), ("model", 0.041), ("composite", 0.002), ("output", 0.001)]:
        step.timer.add(stage, seconds)
    lines = hud_lines(stats, step, (120, 160), paused=True, show_matte=True)
    assert lines == [
        "20.0 fps  latency 40 ms",
        "disc on cpu (test)  ratio 1, 5.0 mattes/s",
        "capture 3 ms  model 41 ms  composite 2 ms  output 1 ms",
        "background: #0000ff, paused, matte",
        "? for help",
    ]


def test_before_the_first_frame_and_without_a_model() -> None:
    step = FrameStep(None, Compositor(parse_background("none")))
    lines = hud_lines(LiveStats(), step, (120, 160), paused=False, show_matte=False)
    assert lines == [
        " 0.0 fps  latency -",
        "capture -  model -  composite -  output -",
        "background: none",
        "? for help",
    ]


def test_hud_shows_cpu_use_against_the_budget() -> None:
    stats = LiveStats(cpu_budget=1.0)
    for i in range(11):  # 20 fps, 45 ms of CPU a frame: 0.9 cores; a new matte on every 2nd
        ratio = 0.5 if i % 2 == 0 else None
        stats.add_frame(captured_at=0.05 * i - 0.04, output_at=0.05 * i, cpu_time=0.045 * i, ratio=ratio)
    step = FrameStep(DiscSession(), Compositor(parse_background("#0000ff")), timer=StageTimer())
    lines = hud_lines(stats, step, (120, 160), paused=False, show_matte=False)
    assert lines[:2] == [
        "20.0 fps  latency 40 ms  cpu 0.9/1.0 cores",
        "disc on cpu (test)  ratio 1, 10.0 mattes/s",
    ]
    stats.cpu_budget = None
    lines = hud_lines(stats, step, (120, 160), paused=False, show_matte=False)
    assert lines[0] == "20.0 fps  latency 40 ms  cpu 0.9 cores"
