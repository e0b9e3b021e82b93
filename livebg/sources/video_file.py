"""Reading a video file or stream with PyAV: decoded RGB frames in order, with the container's exact
timestamps, and the audio packets untouched so they can be copied to the output."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import av.error

from livebg.errors import InputError, InputNotFoundError
from livebg.frames import Frame

log = logging.getLogger(__name__)

_URL_SCHEMES = ("rtsp://", "rtmp://", "http://", "https://", "udp://", "tcp://", "srt://")


def is_url(source: str) -> bool:
    return source.lower().startswith(_URL_SCHEMES)


class VideoFileSource:
    """A video file or stream opened for decoding, used as a context manager.

    Iterating yields, in container order, :class:`Frame` objects for the first video stream and raw
    ``av.Packet`` objects of every audio stream (for copying without re-encoding). File sources never
    drop a frame. ``close()`` is idempotent.
    """

    def __init__(self, source: str | Path, *, with_audio: bool = True) -> None:
        self.source = str(source)
        if not is_url(self.source) and not Path(self.source).exists():
            raise InputNotFoundError(f"input {self.source} does not exist; check the path")
        try:
            self._container = av.open(self.source, mode="r")
        except av.error.FileNotFoundError:
            raise InputNotFoundError(f"input {self.source} does not exist; check the path") from None
        except (av.error.FFmpegError, UnicodeDecodeError) as exc:
            raise InputError(
                f"cannot open {self.source} as a video ({_reason(exc)}); "
                "pass a video file such as .mp4, .mov or .mkv"
            ) from None
        # FFmpeg's "tty" demuxer renders any text file as ANSI art; nobody means that as a video.
        if not self._container.streams.video or self._container.format.name == "tty":
            self._container.close()
            raise InputError(
                f"{self.source} has no video stream; pass a video file such as .mp4, .mov or .mkv"
            )
        self.video = self._container.streams.video[0]
        self.video.thread_type = "AUTO"  # frame + slice threads in the decoder
        self.audio = list(self._container.streams.audio) if with_audio else []
        self._closed = False

    @property
    def width(self) -> int:
        return self.video.codec_context.width

    @property
    def height(self) -> int:
        return self.video.codec_context.height

    @property
    def rate(self) -> Fraction:
        """The stream's frame rate as an exact fraction (e.g. 24000/1001)."""
        rate = self.video.average_rate or self.video.guessed_rate or self.video.base_rate
        return Fraction(rate) if rate else Fraction(30)

    @property
    def time_base(self) -> Fraction:
        return Fraction(self.video.time_base) if self.video.time_base else Fraction(1, 90000)

    @property
    def frame_count(self) -> int | None:
        """Frame count from the container header (may differ from what decodes), or None."""
        return self.video.frames or None

    def __iter__(self) -> Iterator[Frame | av.Packet]:
        index = 0
        start = self.video.start_time or 0
        try:
            for packet in self._container.demux(self.video, *self.audio):
                if packet.stream.type == "audio":
                    if packet.dts is not None:
                        yield packet
                    continue
                for frame in packet.decode():
                    pts = frame.pts if frame.pts is not None else frame.dts
                    seconds = (
                        float((pts - start) * self.time_base) if pts is not None else index / float(self.rate)
                    )
                    yield Frame(
                        rgb=frame.to_ndarray(format="rgb24"),
                        index=index,
                        time=seconds,
                        pts=pts,
                        time_base=self.time_base,
                    )
                    index += 1
        except av.error.FFmpegError as exc:
            raise InputError(
                f"{self.source} is damaged: decoding stopped after {index} frames ({_reason(exc)})"
            ) from None
        if index == 0:
            raise InputError(f"{self.source} has no decodable video frames; the file may be damaged")

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._container.close()

    def __enter__(self) -> VideoFileSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _reason(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
