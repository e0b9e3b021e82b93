"""Recording a live stream to a video file without ever slowing the live picture down.

The live loop hands pictures over and goes on at once; an encoder thread of its own writes them through
:class:`~livebg.sinks.video_file.VideoFileSink` (a hidden temporary name, moved into place when
complete). Finishing happens in that thread too, so a Ctrl-C that interrupts the caller while it waits
cannot leave the file half-written: waiting again is all it takes.
"""

from __future__ import annotations

import logging
import queue
import threading
import time as clock
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from livebg.errors import OutputError
from livebg.sinks.encoding import EncoderOptions
from livebg.sinks.png_sequence import is_png_sequence
from livebg.sinks.safe_write import check_output
from livebg.sinks.video_file import VideoFileSink

RECORDING_OPTIONS = EncoderOptions(preset="ultrafast", threads=1)
"""Live: the encoder must keep up next to the model without taking its CPU. At 720p30 on two cores
libx264 took 21 ms of CPU a frame at ``veryfast`` on its own threads (two thirds of a core, which
halved the mattes a second), 10 ms at ``ultrafast`` on one thread; the files are larger, not worse."""

log = logging.getLogger(__name__)

QUEUE_DEPTH = 8
"""Pictures waiting for the encoder beyond which new ones are dropped."""


def check_recording_path(path: Path, *, overwrite: bool, protect: Sequence[Path | str] = ()) -> None:
    """Refuse a recording path before anything is loaded: a folder (or a name without an extension), a
    path livebg reads (``protect``: the camera file, the background, the weights), an existing file
    without ``overwrite``, a missing or read-only folder, a container the encoder cannot fill."""
    if is_png_sequence(path):
        raise OutputError(
            f"--record {path} is a folder or has no file extension; name a video file such as live.mp4"
        )
    check_output(path, overwrite=overwrite, protect=protect)
    RECORDING_OPTIONS.check(Path(path))


class Recorder:
    """A video file fed from a live loop, with the contract of every file sink.

    ``write(image, time=..., pts=...)`` takes ``uint8 (H, W, 3)`` RGB (scaled to ``width`` x ``height``
    when it differs), queues it and returns at once; ``time`` is in seconds (default: since the
    recorder was made), ``pts`` in the file's time base. Pictures that arrive while
    :data:`QUEUE_DEPTH` others wait are dropped and counted in ``dropped``; ``written`` counts those
    encoded. ``finish()`` writes what is queued, completes the file and moves it into place (a recording
    without a single frame is not kept); ``close()`` releases everything and discards an unfinished
    file. Both are idempotent. Leaving a ``with`` block normally calls ``finish()`` then ``close()``, by
    an exception ``close()`` only.

    An encoding failure (a full disk) stops the recording without stopping the caller: it is logged
    once, later pictures are dropped, and ``finish()`` raises it as :class:`OutputError`.
    """

    def __init__(
        self,
        path: Path,
        *,
        width: int,
        height: int,
        fps: float,
        overwrite: bool = False,
        protect: Sequence[Path | str] = (),
    ) -> None:
        check_recording_path(path, overwrite=overwrite, protect=protect)
        self.path = Path(path)
        self._sink = VideoFileSink(
            self.path,
            width=width,
            height=height,
            rate=Fraction(fps).limit_denominator(1001),
            overwrite=overwrite,
            protect=protect,
            options=RECORDING_OPTIONS,
        )
        self.size = (height, width)
        self.written = 0
        self.dropped = 0
        self._queue: queue.Queue[tuple[np.ndarray, float | None, int | None] | None] = queue.Queue(
            QUEUE_DEPTH
        )
        self._started = clock.perf_counter()
        self._keep = False  # what the encoder thread does at the end: finish (True) or discard
        self._error: OutputError | None = None
        self._done = threading.Event()  # the encoder took its last picture
        self._ended = threading.Event()  # ... and finished or removed the file
        # A daemon: a hung encoder cannot keep the program alive; every way out waits for _ended (an
        # Event, not join(): a join that Ctrl-C interrupts can take a running thread for stopped).
        threading.Thread(target=self._run, name="livebg-record", daemon=True).start()

    def write(self, image: np.ndarray, *, time: float | None = None, pts: int | None = None) -> None:
        if self._error is not None or self._done.is_set():
            self.dropped += 1
            return
        if image.shape[:2] != self.size:
            image = cv2.resize(image, (self.size[1], self.size[0]), interpolation=cv2.INTER_AREA)
        if time is None and pts is None:
            time = clock.perf_counter() - self._started
        try:
            self._queue.put_nowait((image, time, pts))
        except queue.Full:
            self.dropped += 1

    def finish(self) -> None:
        """Complete the file and move it into place; :class:`OutputError` when encoding failed."""
        self._end(keep=True)
        if self._error is not None:
            raise self._error

    def close(self) -> None:
        """Stop; an unfinished file is removed and the output path left as it was."""
        self._end(keep=False)

    def _end(self, *, keep: bool) -> None:
        if not self._done.is_set():
            self._keep = self._keep or keep
            self._queue.put(None)  # behind the pictures already queued; a repeat is harmless
        self._ended.wait()

    def _run(self) -> None:
        try:
            self._encode()
        finally:
            self._ended.set()

    def _encode(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                break
            if self._error is not None:
                continue
            image, seconds, pts = item
            try:
                self._sink.write(image, time=seconds, pts=pts)
                self.written += 1
            except Exception as exc:  # a full disk, a vanished folder: reported at finish()
                self._fail(exc)
        self._done.set()
        if self._keep and self._error is None and self.written:
            try:
                self._sink.finish()
            except Exception as exc:
                self._fail(exc)
            else:
                return
        elif self._keep and self._error is None:
            log.warning("nothing was recorded; %s was not written", self.path)
        self._sink.close()

    def _fail(self, exc: Exception) -> None:
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        self._error = OutputError(
            f"recording to {self.path} failed ({reason}); check free disk space and permissions"
        )
        log.error("%s; the live picture goes on without it", self._error)

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        try:
            if exc_type is None:
                self.finish()
        finally:
            self.close()
