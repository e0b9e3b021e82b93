"""Writing the result to a video file (PyAV), safely: see :mod:`livebg.sinks.safe_write` for the rules
(hidden exclusive partial, moved into place only when complete, never over a file that appeared
meanwhile, never over anything livebg reads)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import av
import av.error
import numpy as np

from livebg.errors import OutputError, UsageError
from livebg.sinks.base import SinkBase
from livebg.sinks.encoding import EncoderOptions
from livebg.sinks.safe_write import DISK_FULL, Partial, check_output, disk_full_error, output_error
from livebg.sinks.streams import StreamCopier, check_audio

log = logging.getLogger(__name__)


class VideoFileSink(SinkBase):
    """An encoded video file written safely; use it as a context manager (see :mod:`livebg.sinks.base`).

    ``write(image, time=..., pts=...)`` takes ``uint8`` RGB ``(H, W, 3)`` (RGBA ``(H, W, 4)`` when
    ``alpha``); ``pts`` is in ``time_base`` units (file-to-file keeps the input's exact timestamps),
    ``time`` in seconds (live recording). ``mux(packet)`` copies a packet of one of ``streams`` (the
    input's audio, subtitle and data streams; see :class:`~livebg.sinks.streams.StreamCopier`, whose
    ``left_out`` the sink's is) and ``timecode`` (``HH:MM:SS:FF``) is the first frame's. ``protect``:
    paths livebg reads, never written. ``expected_frames`` (when known) lets a full disk be reported
    with the space the whole file needs.
    """

    def __init__(
        self,
        path: Path,
        *,
        width: int,
        height: int,
        rate: Fraction,
        alpha: bool = False,
        overwrite: bool = False,
        protect: Sequence[Path | str] = (),
        time_base: Fraction | None = None,
        options: EncoderOptions | None = None,
        streams: Sequence[av.stream.Stream] = (),
        timecode: str | None = None,
        expected_frames: int | None = None,
    ) -> None:
        self.path = Path(path)
        self.alpha = alpha
        self.overwrite = overwrite
        self.expected_frames = expected_frames
        check_output(self.path, overwrite=overwrite, protect=protect)
        plan = (options or EncoderOptions()).plan(self.path, alpha=alpha, size=(height, width))
        for note in plan.notes:
            log.info("%s", note)
        check_audio(streams, self.path)
        self.time_base = time_base or Fraction(1, 90000)
        self._last_pts: int | None = None
        self.frames_written = 0
        self._partial = Partial(self.path, protect=protect)
        try:
            self._container = av.open(str(self._partial.path), mode="w")
            stream = self._container.add_stream(plan.codec, rate=rate, options=plan.options)
            stream.width = width
            stream.height = height
            stream.pix_fmt = plan.pixel_format
            stream.time_base = self.time_base
            stream.codec_context.time_base = self.time_base
            stream.thread_type = "AUTO"
            if options is not None and options.threads is not None:
                stream.thread_count = options.threads
            if timecode is not None:
                stream.metadata["timecode"] = timecode
            self._video = stream
            self._copier = StreamCopier(self._container, streams, self.path)
        except OSError as exc:
            self._partial.discard()
            raise output_error(exc, self.path) from None
        except (av.error.FFmpegError, ValueError) as exc:
            self._partial.discard()
            raise UsageError(f"cannot encode {self.path} with {plan.codec}: {exc}") from None
        except BaseException:
            self._partial.discard()
            raise
        self.left_out = self._copier.left_out
        self._format = "rgba" if alpha else "rgb24"
        log.debug("encoding %s with %s %s %s", self.path, plan.codec, plan.pixel_format, plan.options)

    def write(self, image: np.ndarray, *, time: float | None = None, pts: int | None = None) -> None:
        if pts is None:
            pts = round((time or 0.0) / self.time_base)
        if self._last_pts is not None and pts <= self._last_pts:
            pts = self._last_pts + 1  # timestamps must increase; live clocks can repeat
        self._last_pts = pts
        frame = av.VideoFrame.from_ndarray(image, format=self._format)
        frame.pts = pts
        frame.time_base = self.time_base
        try:
            for packet in self._video.encode(frame):
                self._container.mux(packet)
        except OSError as exc:
            raise self._error(exc) from None
        self.frames_written += 1

    def mux(self, packet: av.Packet) -> None:
        """Copy (or convert) an input packet of one of ``streams`` into its output stream."""
        carried = self._copier.carry(packet)
        if carried is None:
            return
        try:
            self._container.mux(carried)
        except OSError as exc:
            raise self._error(exc) from None

    def _error(self, exc: OSError) -> OutputError:
        if exc.errno in DISK_FULL:
            try:
                written = self._partial.path.stat().st_size
            except OSError:
                written = 0
            return disk_full_error(self.path, written, self.frames_written, self.expected_frames)
        return output_error(exc, self.path)

    def _finish(self) -> None:
        """Flush the encoder, complete the container and move the file into place."""
        try:
            for packet in self._video.encode(None):
                self._container.mux(packet)
            self._container.close()
        except OSError as exc:
            raise self._error(exc) from None
        self._partial.publish(overwrite=self.overwrite)

    def _close(self) -> None:
        if not self.finished:
            with contextlib.suppress(Exception):
                self._container.close()
            self._partial.discard()
