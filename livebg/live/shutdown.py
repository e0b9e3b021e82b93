"""Stopping live mode so that a second Ctrl-C cannot break the first one's shutdown.

Ctrl-C (and SIGTERM/SIGHUP, which the CLI turns into it) raises :class:`KeyboardInterrupt` in the main
thread wherever it happens to be. Each shutdown step is a wait for a thread that does the real work
(the recorder's encoder completes the file, the preparer its compile), so it can simply be waited for
again: no step is left half-done and no thread outlives the run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

log = logging.getLogger(__name__)


def uninterrupted(step: Callable[[], object]) -> Callable[[], None]:
    """``step`` made to run to its end: a :class:`KeyboardInterrupt` that arrives meanwhile is noted
    and the step repeated, which suits idempotent waits (``Event.wait()``, ``finish()``, ``close()``).
    Not ``Thread.join()``: on Python before 3.13, a join that Ctrl-C interrupts can leave the thread
    marked as stopped while it still runs, and the repeated join returns at once."""

    def run() -> None:
        while True:
            try:
                step()
            except KeyboardInterrupt:
                log.warning("still stopping; one moment")
            else:
                return

    return run
