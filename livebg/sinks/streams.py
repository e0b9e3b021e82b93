"""The input's audio, subtitle and data streams in an output video file: copied packet for packet with
their exact timestamps, text subtitles converted to the text format the container holds, or left out
and named in one warning.

What each container holds was found by trying (PyAV 18, FFmpeg 8): MP4 and MOV take mov_text subtitles
and untyped data streams (such as GoPro telemetry); Matroska takes text (subrip, ass, webvtt) and bitmap
subtitles but no data stream; WebM only webvtt subtitles. A timecode track cannot be copied as a stream
anywhere: FFmpeg writes one from the video stream's ``timecode`` tag (a tmcd track in MP4 and MOV, a
tag in Matroska and WebM), which is how it is kept.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import av
import av.error

from livebg.errors import UsageError
from livebg.sinks.encoding import muxer_name
from livebg.sources.media import describe

log = logging.getLogger(__name__)

TEXT_SUBTITLES = ("mov_text", "subrip", "ass", "ssa", "webvtt", "text")
"""Subtitle codecs that decode to text (as ASS events), so one can be converted into another."""
# The text subtitle format each container holds, for converting the others to.
_TEXT_FOR = {"mp4": "mov_text", "mov": "mov_text", "matroska": "ass", "webm": "webvtt"}
_DATA_MUXERS = ("mp4", "mov")


def warn_left_out(left_out: Sequence[tuple[str, str]], output: Path | str) -> None:
    """Log one warning naming every stream not kept in ``output``: ``(stream in words, why)`` pairs,
    grouped by why."""
    if not left_out:
        return
    groups: dict[str, list[str]] = {}
    for what, why in left_out:
        groups.setdefault(why, []).append(f"the {what}")
    said = "; ".join(f"{_join(whats)}, as {why}" for why, whats in groups.items())
    log.warning("not kept in %s: %s", output, said)


def _join(words: Sequence[str]) -> str:
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"


def check_audio(streams: Sequence[av.stream.Stream], path: Path | str) -> None:
    """Raise :class:`UsageError` when an audio stream among ``streams`` cannot be copied into ``path``'s
    container: audio is the user's to drop (``--no-audio``), never left out unsaid."""
    audio = [s for s in streams if s.type == "audio"]
    if not audio:
        return
    supported = _supported(muxer_name(path))
    for s in audio:
        if s.codec_context.name not in supported:
            raise UsageError(
                f"the input's {s.codec_context.name} audio cannot be copied into a {Path(path).suffix} "
                "file; use .mkv or .mov (or .mp4 for AAC audio), or pass --no-audio"
            )


def _supported(muxer: str) -> set[str]:
    with av.open(os.devnull, mode="w", format=muxer) as probe:
        return set(probe.supported_codecs)


class StreamCopier:
    """The output streams of ``streams`` (audio, subtitle and data streams of an input) in ``container``
    (an output file written at ``path``), made as it is built.

    :meth:`carry` turns an input packet of one of them into the packet to mux (``None`` for a stream
    left out). Audio must fit the container (see :func:`check_audio`); a subtitle or data stream it
    cannot hold is left out and listed in ``left_out`` as ``(stream in words, why)``.
    """

    def __init__(
        self, container: av.container.OutputContainer, streams: Sequence[av.stream.Stream], path: Path
    ) -> None:
        self.left_out: list[tuple[str, str]] = []
        self._muxer = muxer_name(path)
        self._suffix = Path(path).suffix
        self._copied: dict[int, av.stream.Stream] = {}
        self._converted: dict[int, tuple[av.stream.Stream, av.stream.Stream]] = {}
        supported = _supported(self._muxer)
        for stream in streams:
            codec = stream.codec_context.name if stream.codec_context is not None else None
            if stream.type == "data":
                if self._muxer in _DATA_MUXERS:
                    self._copied[stream.index] = container.add_stream_from_template(stream)
                else:
                    self.left_out.append((describe(stream), f"{self._suffix} files hold no data streams"))
            elif codec in supported or stream.type == "audio":
                self._copied[stream.index] = container.add_stream_from_template(stream)
            elif codec in TEXT_SUBTITLES and self._muxer in _TEXT_FOR:
                self._converted[stream.index] = (stream, self._text_stream(container, stream))
            else:
                holds = _TEXT_FOR.get(self._muxer)
                why = f"{self._suffix} files hold {holds} subtitles only" if holds else "no subtitles"
                self.left_out.append((describe(stream), why))

    def _text_stream(
        self, container: av.container.OutputContainer, stream: av.stream.Stream
    ) -> av.stream.Stream:
        """An output stream encoding ``stream``'s text in the container's text subtitle format."""
        decoder = stream.codec_context
        decoder.open(strict=False)  # sets the ASS header the encoder needs before the file's header
        out = container.add_stream(_TEXT_FOR[self._muxer])
        out.codec_context.subtitle_header = decoder.subtitle_header
        out.time_base = stream.time_base
        out.codec_context.time_base = stream.time_base
        for key, value in stream.metadata.items():
            out.metadata[key] = value
        return out

    def carry(self, packet: av.Packet) -> av.Packet | None:
        """The packet to mux for an input ``packet`` (same timestamps), or ``None`` when its stream is
        left out."""
        index = packet.stream.index
        if index in self._copied:
            packet.stream = self._copied[index]
            return packet
        if index not in self._converted:
            return None
        source, out = self._converted[index]
        try:
            subtitles = source.codec_context.decode2(packet)
        except av.error.FFmpegError:  # a damaged cue: the others are still worth keeping
            return None
        if subtitles is None:  # an empty sample: the cue before it has ended
            return None
        converted = out.codec_context.encode_subtitle(subtitles)
        converted.pts, converted.dts, converted.duration = packet.pts, packet.dts, packet.duration
        converted.time_base = packet.time_base
        converted.stream = out
        return converted
