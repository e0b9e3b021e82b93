"""The lines of the live HUD: rate, latency and CPU use, model and ratio, per-stage times, background
state."""

from __future__ import annotations

import math

from livebg.live.stats import LiveStats
from livebg.step import FrameStep

# The frame step's stages as the HUD names them: live frames are captured, not decoded; "capture" is
# how long a frame waited before the loop took it.
_STAGE_LABELS = {"decode": "capture", "model": "model", "composite": "composite", "output": "output"}


def hud_lines(
    stats: LiveStats,
    step: FrameStep,
    size: tuple[int, int],
    *,
    paused: bool,
    show_matte: bool,
) -> list[str]:
    """The HUD for a live picture of ``size`` = ``(height, width)``: processed frames per second, the
    last latency and the cores the process uses (of its budget, if it has one), the model with its
    device, runtime and current ratio (once loaded) and the new mattes per second, the median time of
    each stage in milliseconds, and the background with the output type (unless composite) and what is
    paused or shown."""
    latency = 1000 * stats.latencies[-1] if stats.latencies else math.nan
    line = f"{stats.recent_fps:4.1f} fps  latency {_ms(latency)}"
    cores = stats.recent_cores
    if not math.isnan(cores):
        budget = f"/{stats.cpu_budget:.1f}" if stats.cpu_budget is not None else ""
        line += f"  cpu {cores:.1f}{budget} cores"
    lines = [line]
    session = step.session
    if session is not None:
        ratio = session.current_ratio(*size)
        lines.append(
            f"{session.name} on {session.device} ({session.backend})  ratio {ratio:.3g}, "
            f"{stats.recent_matte_rate:.1f} mattes/s"
        )
    stages = _STAGE_LABELS.items()
    lines.append("  ".join(f"{label} {_ms(step.timer.median_ms(stage))}" for stage, label in stages))
    state = [step.compositor.background.name]
    if step.compositor.output != "composite":
        state.append(f"{step.compositor.output} output")
    if paused:
        state.append("paused")
    if show_matte:
        state.append("matte")
    lines.append("background: " + ", ".join(state))
    lines.append("? for help")
    return lines


def _ms(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.0f} ms"
