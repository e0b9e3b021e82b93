"""Opening and decoding video with PyAV, one way for every reader: the input clip or stream
(:mod:`livebg.sources.video_file`), a clip played as a camera (:mod:`livebg.sources.camera`) and video
backgrounds (:mod:`livebg.backgrounds`).

:class:`MediaInput` opens a file, stream or URL and says in one sentence why it cannot be read
(missing, not a video, damaged or truncated, a FIFO or device). It picks the frame rate one way
(average, guessed, base, else 30 fps), decodes the first video stream in order with exact timestamps,
and turns every picture upright the way a player shows it (:mod:`livebg.sources.orientation`), so
that nothing after it sees a picture lying on its side. At the end it checks that the container
delivered what its header promised, so a cut-off download is never mistaken for a complete clip.
"""

from __future__ import annotations

import logging
import os
import stat
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import av.error
import numpy as np

from livebg.errors import InputError, InputNotFoundError
from livebg.sources.orientation import Upright, orientation

log = logging.getLogger(__name__)

URL_SCHEMES = ("rtsp://", "rtmp://", "http://", "https://", "udp://", "tcp://", "srt://")
VIDEO_FILES = "pass a video file such as .mp4, .mov or .mkv"
DEFAULT_RATE = Fraction(30)

# How the first bytes of a file holding video (or a still read as a one-frame video) look: such a file
# that FFmpeg cannot open is damaged or truncated rather than "not a video".
_SIGNATURES: tuple[tuple[int, bytes], ...] = (
    (4, b"ftyp"),  # MP4, MOV, 3GP, HEIF
    (4, b"moov"),
    (4, b"mdat"),
    (4, b"free"),
    (4, b"wide"),
    (0, b"\x1a\x45\xdf\xa3"),  # Matroska, WebM
    (8, b"AVI "),  # RIFF AVI
    (8, b"WEBP"),
    (0, b"\x00\x00\x01\xba"),  # MPEG program stream
    (0, b"\x00\x00\x01\xb3"),  # MPEG video
    (0, b"\x30\x26\xb2\x75"),  # ASF, WMV
    (0, b"FLV"),
    (0, b"OggS"),
    (0, b"GIF8"),
    (0, b"\xff\xd8\xff"),  # JPEG
    (0, b"\x89PNG"),
)
_TS_PACKET = 188  # MPEG-TS: a sync byte 0x47 every 188 bytes

# A clip counts as complete when what was read reaches within this many frame intervals of the end
# the container promises: headers round, and the last frame's duration is sometimes a guess.
_END_TOLERANCE_FRAMES = 1


def is_url(source: str) -> bool:
    """Whether ``source`` names a network stream rather than a file."""
    return source.lower().startswith(URL_SCHEMES)


def frame_rate(stream: av.video.stream.VideoStream) -> Fraction:
    """The stream's frame rate as an exact fraction: its average rate, else FFmpeg's guess, else its
    base rate, else 30 fps."""
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    return Fraction(rate) if rate else DEFAULT_RATE


@dataclass(frozen=True)
class Picture:
    """One decoded picture of the first video stream.

    ``index`` counts from 0 in presentation order; ``pts`` is the container's timestamp in the stream's
    ``time_base`` (None when it has none); ``time`` is seconds from the stream's start and ``duration``
    the seconds it is shown. :meth:`rgb` converts it (only when asked: skipping costs decoding only).
    """

    index: int
    pts: int | None
    time: float
    duration: float
    frame: av.VideoFrame
    upright: Upright

    def rgb(self, width: int | None = None, height: int | None = None) -> np.ndarray:
        """``uint8 (H, W, 3)`` RGB as a player shows it, scaled to ``width`` x ``height`` (as shown) when
        both are given; full-range, 10-bit and grey sources are converted exactly as FFmpeg does."""
        size: dict[str, int] = {}
        if width and height:
            w, h = self.upright.size(width, height)  # the stored picture's size before turning
            if (w, h) != (self.frame.width, self.frame.height):
                size = {"width": w, "height": h}
        return self.upright.apply(self.frame.to_ndarray(format="rgb24", **size))


class MediaInput:
    """A file, stream or URL opened with PyAV for its first video stream; a context manager.

    Opening decodes the first picture, so a file that holds nothing decodable is refused here, and
    ``width``/``height`` are the upright size of the pictures :meth:`read` yields. ``label`` names the
    input in messages (``"input"``, ``"background video"``); ``remedy`` says what to give instead.
    ``audio`` makes :meth:`read` also yield the audio packets (for copying without re-encoding), and
    ``side_streams`` those of the subtitle and data streams; ``others`` lists the streams whose packets
    it yields, ``left_out`` the rest besides the video (other video streams, attachments) as ``(stream
    in words, why)``, and ``timecode`` is the start timecode (``HH:MM:SS:FF``, kept as a tag rather than
    a stream) when side streams are asked for and it has one.

    Raises :class:`InputNotFoundError` when it does not exist and :class:`InputError` when it cannot be
    read: not a video, damaged or truncated, a folder, a FIFO or a device node. When reading ends short
    of what the container promised (a cut-off download) or pictures could not be decoded, :meth:`read`
    raises :class:`InputError` at the end, or with ``allow_truncated`` logs one warning and ends.
    ``close()`` is idempotent.
    """

    def __init__(
        self,
        source: str | Path,
        *,
        label: str = "input",
        remedy: str = VIDEO_FILES,
        audio: bool = False,
        side_streams: bool = False,
        allow_truncated: bool = False,
    ) -> None:
        self.source = str(source)
        self.label = label
        self.remedy = remedy
        self.allow_truncated = allow_truncated
        self._name = f"{label} {self.source}"
        self._check_file()
        try:
            self.container = av.open(self.source, mode="r")
        except av.error.FileNotFoundError:
            raise InputNotFoundError(f"{self._name} does not exist; check the path") from None
        except (av.error.FFmpegError, UnicodeDecodeError) as exc:
            raise self._unopenable(exc) from None
        self._closed = False
        try:
            self._open_video(audio, side_streams)
        except BaseException:
            self.close()
            raise

    def _check_file(self) -> None:
        if is_url(self.source):
            return
        try:
            mode = os.stat(self.source).st_mode
        except FileNotFoundError:
            raise InputNotFoundError(f"{self._name} does not exist; check the path") from None
        except OSError as exc:
            raise InputError(f"{self._name} cannot be read ({exc.strerror}); {self.remedy}") from None
        if stat.S_ISDIR(mode):
            raise InputError(f"{self._name} is a folder, not a file; {self.remedy}")
        if not stat.S_ISREG(mode):
            # FFmpeg would wait on a FIFO or device for as long as nothing arrives.
            kind = "a FIFO" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode) else "a device"
            raise InputError(
                f"{self._name} is {kind}, not a file; livebg reads files, stream URLs and cameras, so "
                "save the data to a file first"
            )

    def _unopenable(self, exc: BaseException) -> InputError:
        reason = _reason(exc)
        if isinstance(exc, av.error.PermissionError):
            return InputError(f"{self._name} cannot be read (permission denied); check its permissions")
        if is_url(self.source):
            return InputError(
                f"cannot open {self._name} ({reason}); check the address and that the stream is running"
            )
        if _looks_like_video(self.source):
            return InputError(
                f"{self._name} is damaged or truncated and cannot be opened ({reason}); "
                "copy or download it again"
            )
        return InputError(f"{self._name} is not a video ({reason}); {self.remedy}")

    def _open_video(self, audio: bool, side_streams: bool) -> None:
        container = self.container
        # FFmpeg's "tty" demuxer renders any text file as ANSI art; nobody means that as a video.
        if container.format.name == "tty":
            raise InputError(f"{self._name} is not a video (it is text); {self.remedy}")
        if not container.streams.video:
            if not container.streams and _looks_like_video(self.source):  # cut off inside its header
                raise InputError(
                    f"{self._name} is damaged or truncated: it holds no readable stream; copy or download "
                    "it again"
                )
            raise InputError(f"{self._name} is not a video (it has no video stream); {self.remedy}")
        self.video = container.streams.video[0]
        self.video.thread_type = "AUTO"  # frame + slice threads in the decoder
        self.audio = list(container.streams.audio) if audio else []
        side = side_streams_of(container) if side_streams else []
        self.others = sorted([*self.audio, *side], key=lambda s: s.index)
        self._copied = {s.index for s in self.others}
        self.timecode = timecode_of(container) if side_streams else None
        unread = [s for s in container.streams if s.type not in ("audio", "subtitle", "data")]
        self.left_out = [
            (describe(s), "livebg writes one video stream" if s.type == "video" else f"it is an {s.type}")
            for s in unread
            if side_streams and s is not self.video
        ]
        self.rate = frame_rate(self.video)
        self.time_base = Fraction(self.video.time_base) if self.video.time_base else Fraction(1, 90000)
        self._start: int | None = self.video.start_time
        self.upright = Upright()
        self._count = 0
        self._end = 0.0  # seconds reached so far by any stream read
        self._problem: str | None = None  # why pictures were lost, when some were
        self._pending: deque[Picture | av.Packet] = deque()
        self._items = self._decode()
        for item in self._items:  # up to the first picture: its display matrix and size
            self._pending.append(item)
            if isinstance(item, Picture):
                self.width, self.height = item.upright.size(item.frame.width, item.frame.height)
                return
        why = f" ({self._problem})" if self._problem else ""
        raise InputError(
            f"{self._name} has no decodable video frames{why}; it is damaged or truncated, so copy or "
            "download it again"
        )

    @property
    def frame_count(self) -> int | None:
        """Frame count from the container header (may differ from what decodes), or None."""
        return self.video.frames or None

    @property
    def duration(self) -> float | None:
        """Seconds from the video's start to the end the container promises, or None when it does not say
        (streams, fragmented files)."""
        if self.video.duration:
            return float(self.video.duration * self.time_base)
        if self.container.duration:
            end = (self.container.start_time or 0) + self.container.duration  # microseconds
            return end / 1_000_000 - float((self._start or 0) * self.time_base)
        return None

    @property
    def problem(self) -> str | None:
        """Why reading lost pictures or stopped early (FFmpeg's words), once it has; else None."""
        return self._problem

    def read(self) -> Iterator[Picture | av.Packet]:
        """Once per opening: every :class:`Picture` in order, with the packets of :attr:`others` in
        container order between them."""
        while self._pending:
            yield self._pending.popleft()
        yield from self._items
        self._check_complete()

    def seek(self, seconds: float) -> None:
        """Make :meth:`read` start at the video keyframe at or before ``seconds`` (from the stream's
        start; the picture decoded at opening is dropped); the other packets follow from the same file
        position. Before reading only. Raises :class:`InputError` when the container cannot seek."""
        target = (self._start or 0) + int(seconds / self.time_base)
        self._items.close()
        self._pending.clear()
        try:
            self.container.seek(target, backward=True, any_frame=False, stream=self.video)
        except av.error.FFmpegError as exc:
            raise InputError(f"cannot seek in {self._name} to {seconds:.3f} s ({_reason(exc)})") from None
        self._items = self._decode()

    def pictures(self) -> Iterator[Picture]:
        """:meth:`read` without the other streams' packets."""
        for item in self.read():
            if isinstance(item, Picture):
                yield item

    def _decode(self) -> Iterator[Picture | av.Packet]:
        # Audio is demuxed even when not asked for: its end tells a short video from a cut-off file.
        side = [s for s in self.others if s.type != "audio"]
        packets = self.container.demux(self.video, *self.container.streams.audio, *side)
        while True:
            try:
                packet = next(packets)
            except StopIteration:
                return
            except av.error.FFmpegError as exc:  # the container cannot be read further
                self._problem = _reason(exc)
                break
            if packet.stream.type != "video":
                if packet.stream.type == "audio" and packet.pts is not None and packet.duration:
                    end = (packet.pts + packet.duration) * packet.stream.time_base
                    self._end = max(self._end, float(end - (self._start or 0) * self.time_base))
                if packet.dts is not None and packet.stream.index in self._copied:
                    yield packet
                continue
            try:
                frames = packet.decode()
            except av.error.FFmpegError as exc:  # a damaged packet: decoders resume at the next one
                self._problem = _reason(exc)
                continue
            for frame in frames:
                yield self._picture(frame)
        try:  # what the decoder still holds after the container broke off
            frames = self.video.decode(None)
        except av.error.FFmpegError:
            return
        for frame in frames:
            yield self._picture(frame)

    def _picture(self, frame: av.VideoFrame) -> Picture:
        pts = frame.pts if frame.pts is not None else frame.dts
        if self._count == 0:
            self.upright = orientation(frame, self.video, self.source)
            if self._start is None:
                self._start = pts or 0
        interval = 1 / float(self.rate)
        start = self._start or 0
        seconds = float((pts - start) * self.time_base) if pts is not None else self._count * interval
        duration = float(frame.duration * self.time_base) if frame.duration else interval
        self._end = max(self._end, seconds + duration)
        picture = Picture(self._count, pts, seconds, duration, frame, self.upright)
        self._count += 1
        return picture

    def _check_complete(self) -> None:
        promised = self.duration
        cut = promised is not None and self._end < promised - _END_TOLERANCE_FRAMES / float(self.rate)
        if not cut and self._problem is None:
            return
        why = f" ({self._problem})" if self._problem else ""
        if cut and promised:
            total = max(self._count + 1, round(promised * self.rate))
            message = (
                f"{self._name} is damaged or truncated: only {self._count} of about {total} frames could be "
                f"read{why}"
            )
        elif is_url(self.source):
            message = f"{self._name} broke off after {self._count} frames{why}"
        else:
            message = f"{self._name} is damaged: only {self._count} frames could be read{why}"
        if self.allow_truncated:
            log.warning("%s; keeping them", message)
            return
        raise InputError(f"{message}; pass --allow-truncated to keep the readable part")

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            items = getattr(self, "_items", None)
            if items is not None:
                items.close()
            self.container.close()

    def __enter__(self) -> MediaInput:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def side_streams_of(container: av.container.InputContainer) -> list[av.stream.Stream]:
    """The subtitle and data streams of ``container`` worth copying, in order: all but timecode tracks
    (a data stream holding one number, kept as the ``timecode`` tag instead: see :func:`timecode_of`)."""
    data = [s for s in container.streams if s.type == "data" and not _is_timecode(s)]
    return sorted([*container.streams.subtitles, *data], key=lambda s: s.index)


def timecode_of(container: av.container.InputContainer) -> str | None:
    """The start timecode (``HH:MM:SS:FF``) of ``container``'s video, from its tmcd track or tag, or None."""
    return next((s.metadata["timecode"] for s in container.streams if _is_timecode(s)), None)


def _is_timecode(stream: av.stream.Stream) -> bool:
    return "timecode" in stream.metadata


def describe(stream: av.stream.Stream) -> str:
    """A stream in words for messages, e.g. ``subtitle stream #2 (subrip)``."""
    codec = stream.codec_context.name if stream.codec_context is not None else stream.name
    return f"{stream.type} stream #{stream.index}" + (f" ({codec})" if codec else "")


def _looks_like_video(path: str) -> bool:
    try:
        with open(path, "rb") as file:
            head = file.read(_TS_PACKET + 1)
    except OSError:
        return False
    if len(head) > _TS_PACKET and head[0] == head[_TS_PACKET] == 0x47:
        return True
    return any(head[offset : offset + len(magic)] == magic for offset, magic in _SIGNATURES)


def _reason(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
