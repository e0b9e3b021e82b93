"""How the ``livebg`` command behaves as a process: stop signals and closed terminals.

- SIGTERM (a service manager, ``kill``) and SIGHUP (a closed terminal) stop the work like Ctrl-C: they
  raise :class:`KeyboardInterrupt` in the main thread, so every ``with`` block unwinds and partial
  outputs are removed. Signals that arrive while livebg is already stopping are ignored, so a second
  Ctrl-C cannot cut the cleanup short. A signal the process was told to ignore (``nohup``, a background
  job's SIGINT) stays ignored.
- Progress bars and log lines go through :class:`QuietStream`, whose writes never fail: once the
  terminal or pipe is gone (``livebg video ... 2>&1 | head -1``) they are dropped and the job goes on.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import Any, TextIO

# SIGHUP does not exist on Windows.
_STOP_SIGNALS = [getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)]


class StopSignals:
    """Context manager: within it, the first SIGINT, SIGTERM or SIGHUP raises ``KeyboardInterrupt`` in
    the main thread and later ones are ignored. On exit the previous handlers come back, unless a signal
    was received (then the process is stopping, and later signals stay ignored). ``received`` is the
    first signal's number (``None`` without one). Outside the main thread it does nothing."""

    def __init__(self) -> None:
        self.received: int | None = None
        self._previous: dict[int, Any] = {}

    @property
    def exit_code(self) -> int | None:
        """The shell's convention for a process stopped by the received signal (128 + its number)."""
        return None if self.received is None else 128 + self.received

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is not threading.main_thread():
            return self
        for signum in _STOP_SIGNALS:
            previous = signal.getsignal(signum)
            if previous in (signal.SIG_DFL, signal.default_int_handler):  # not ignored, not someone else's
                self._previous[signum] = previous
                signal.signal(signum, self._stop)
        return self

    def _stop(self, signum: int, frame: FrameType | None) -> None:
        if self.received is not None:
            return  # already stopping: let the cleanup finish
        self.received = signum
        raise KeyboardInterrupt

    def __exit__(self, *exc: object) -> None:
        if self.received is None:
            for signum, previous in self._previous.items():
                signal.signal(signum, previous)
        # else the process is on its way out: later signals stay ignored, so that one arriving during
        # the interpreter's own shutdown prints no traceback.
        self._previous.clear()


class QuietStream:
    """A text stream around ``stream`` (e.g. ``sys.stderr``, possibly ``None``) whose ``write`` and
    ``flush`` never raise: after the first failure (closed pipe, closed terminal) everything is dropped.
    Other attributes are the wrapped stream's."""

    def __init__(self, stream: TextIO | None) -> None:
        self._stream = stream
        self.broken = stream is None

    def write(self, text: str) -> int:
        if not self.broken:
            try:
                return self._stream.write(text)  # type: ignore[union-attr]
            except (OSError, ValueError):  # ValueError: the file was closed
                self.broken = True
        return len(text)

    def flush(self) -> None:
        if not self.broken:
            try:
                self._stream.flush()  # type: ignore[union-attr]
            except (OSError, ValueError):
                self.broken = True

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)
