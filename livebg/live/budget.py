"""A CPU budget for live mode: a video-call program needs CPU too.

``--cpu-budget`` says how much of the machine live mode may take, in cores (``1``, ``1.5``) or as a share
of the cores this process may run on (``50%``). Live mode then runs inference on
:func:`inference_threads` threads, and its rate control (:mod:`livebg.live.ratio`) chooses the downsample
ratio and how often the network runs so that the CPU time the whole process takes (every thread:
capture, inference, compositing, outputs) stays within the budget; :func:`frame_load` is that
accounting. Importing this module imports no torch, so the CLI refuses a bad budget at once.
"""

from __future__ import annotations

import math

from livebg.config import cpu_cores
from livebg.errors import UsageError


def parse_cpu_budget(text: str, cores: int | None = None) -> float:
    """Cores from ``"1"``, ``"1.5"`` or ``"50%"`` (of ``cores``, default :func:`~livebg.config.cpu_cores`).

    Anything else, a budget of 0 or less, and more than ``cores`` are a :class:`UsageError`."""
    cores = cores or cpu_cores()
    share = text.strip().endswith("%")
    try:
        value = float(text.strip().removesuffix("%"))
    except ValueError:
        value = math.nan
    budget = value * cores / 100 if share else value
    if not (math.isfinite(budget) and 0 < budget <= cores):
        raise UsageError(
            f"--cpu-budget {text} is not accepted; give cores, above 0 and at most this machine's {cores} "
            "(e.g. 1 or 1.5), or a share of them (e.g. 50%)"
        )
    return budget


def check_cpu_budget(budget: float | None, cores: int | None = None) -> None:
    """Refuse a ``budget`` in cores that is not above 0 and at most ``cores`` (``None``: no budget)."""
    cores = cores or cpu_cores()
    if budget is not None and not (isinstance(budget, (int, float)) and 0 < budget <= cores):
        raise UsageError(
            f"CPU budget {budget!r} is not accepted; give cores above 0 and at most this machine's {cores}, "
            "or None for no budget"
        )


def inference_threads(budget: float | None) -> int | None:
    """The inference threads for a ``budget`` in cores: its whole cores, at least one (a thread that
    waits for the rest of the budget costs nothing, one more core than the budget would overdraw it);
    ``None`` without a budget (every core)."""
    return None if budget is None else max(1, math.floor(budget))


def frame_load(
    seconds: float, cpu_seconds: float | None, frame_budget: float, cpu_budget: float | None
) -> float:
    """How full a frame's allowance is, 1 being exactly full: the ``seconds`` it took over the
    ``frame_budget`` (``1 / fps``), or the ``cpu_seconds`` the process took for it over its share of
    the CPU budget (``cpu_budget`` cores x ``frame_budget``), whichever is fuller. Without a CPU
    budget or a CPU time, the time alone."""
    load = seconds / frame_budget
    if cpu_budget is None or cpu_seconds is None:
        return load
    return max(load, cpu_seconds / (cpu_budget * frame_budget))
