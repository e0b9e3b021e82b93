"""The contract every sink keeps (video file, PNG sequence, image, recording, virtual camera, window).

``write(image, time=..., pts=...)`` takes one picture; ``finish()`` completes the output (a file sink
moves its file into place, atomically); ``close()`` releases everything and discards an output that was
not finished (nothing is left at its path). Both are idempotent and ``close()`` is safe after
``finish()``. As a context manager a sink is finished and closed when the block ends normally, and only
closed when it ends by an exception, so an interrupted or failed job leaves no half-written output.
"""

from __future__ import annotations

from typing import Protocol, TypeVar, runtime_checkable

import numpy as np

_S = TypeVar("_S", bound="SinkBase")


@runtime_checkable
class Sink(Protocol):
    """Where pictures go."""

    def write(self, image: np.ndarray, *, time: float | None = None, pts: int | None = None) -> None:
        """Take ``uint8 (H, W, 3)`` RGB or ``(H, W, 4)`` RGBA; ``time`` in seconds on the output's
        timeline, ``pts`` in the sink's time base when known."""

    def finish(self) -> None:
        """Complete the output; idempotent. On failure the output is discarded and the error raised."""

    def close(self) -> None:
        """Release everything; an unfinished output is discarded. Idempotent, safe after finish()."""

    def __enter__(self) -> Sink: ...

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None: ...


class SinkBase:
    """The contract's rules, written once: subclasses give ``write``, ``_close`` (release; discard the
    output unless :attr:`finished`) and, where there is something to complete, ``_finish``. Each of
    ``_finish`` and ``_close`` runs at most once, and a failing ``_finish`` is followed by ``_close``."""

    _finished = False
    _closed = False

    @property
    def finished(self) -> bool:
        """Whether the output was completed."""
        return self._finished

    def write(self, image: np.ndarray, *, time: float | None = None, pts: int | None = None) -> None:
        """Take one ``uint8`` RGB ``(H, W, 3)`` or RGBA ``(H, W, 4)`` picture."""
        raise NotImplementedError

    def finish(self) -> None:
        if self._finished:
            return
        if self._closed:
            raise RuntimeError(f"{type(self).__name__}.finish() after close(): the output was discarded")
        try:
            self._finish()
        except BaseException:
            self.close()
            raise
        self._finished = True

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._close()

    def _finish(self) -> None:
        """Complete the output (nothing to do for a live display)."""

    def _close(self) -> None:
        """Release everything; discard the output unless :attr:`finished`."""
        raise NotImplementedError

    def __enter__(self: _S) -> _S:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is not None:
            self.close()
            return
        try:
            self.finish()
        finally:
            self.close()
