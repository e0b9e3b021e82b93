"""A stretch of a clip, cut exactly to the frame: ffmpeg's ``-ss``, ``-to``, ``-t`` and ``-frames:v``.

:class:`SpanSource` wraps a :class:`~livebg.sources.video_file.VideoFileSource`: it seeks to the keyframe
before the start, decodes forward, and yields the frames whose time lies in ``[start, end)`` (at most
``frames`` of them), with timestamps shifted so the first kept frame is at 0 (as ffmpeg does; the
frames keep their :attr:`~livebg.frames.Frame.time`, so a video background runs as in the whole
clip and the part looks exactly like the same stretch of the whole clip's output). Audio
packets overlapping the kept stretch (and the one before, which AAC's decoder needs) are copied whole
and shifted by the same amount: MP4 and MOV files trim the audio to the exact start with an edit list,
so it is never re-encoded; other containers start it up to one packet (about 20 ms) early. Subtitle
and data packets are kept when they start within the stretch, shifted likewise; the timecode (the
whole clip's first frame's) is kept only for a stretch from the clip's start.

Frames between ``warmup_from`` and ``start`` come out wrapped in :class:`Warmup`: the pipeline shows them
to the model (so that a recurrent model's state settles) and writes nothing for them. Chunks of a long
clip processed apart use this (:mod:`livebg.batch.chunks`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction

import av

from livebg.errors import InputError, UsageError
from livebg.frames import Frame
from livebg.sources.video_file import VideoFileSource

_AUDIO_MARGIN = 1.0
"""Seconds before the start (and after the end) over which audio packets are looked for: files
interleave audio and video in blocks, so the packets overlapping a cut can sit before its keyframe."""


@dataclass(frozen=True)
class Span:
    """Which frames of a clip to process. ``start``/``end``: seconds on the clip's timeline (frame times
    from its first frame), ``end`` exclusive; ``frames``: at most this many. ``warmup_from``: frames from
    this time up to ``start`` are shown to the model only."""

    start: float = 0.0
    end: float | None = None
    frames: int | None = None
    warmup_from: float | None = None

    @classmethod
    def create(
        cls,
        start: float | None = None,
        end: float | None = None,
        duration: float | None = None,
        frames: int | None = None,
    ) -> Span | None:
        """The span of ``--start``/``--end``/``--duration``/``--frames`` (``None`` when none is given);
        ``end`` is a position in the input (ffmpeg's ``-to``), ``duration`` a length from ``start``."""
        if start is None and end is None and duration is None and frames is None:
            return None
        begin = 0.0 if start is None else start
        if not (math.isfinite(begin) and begin >= 0):
            raise UsageError(f"--start {start}: give a time of 0 or more seconds, e.g. 12.5 or 1:02.5")
        if end is not None and duration is not None:
            raise UsageError(f"--end {end} and --duration {duration} both given; give one of them")
        if duration is not None:
            if not duration > 0:
                raise UsageError(f"--duration {duration}: give a length above 0 seconds")
            end = begin + duration
        if end is not None and not end > begin:
            raise UsageError(f"--end {end} is not after --start {begin}; give a later end")
        if frames is not None and frames < 1:
            raise UsageError(f"--frames {frames}: give 1 or more frames")
        return cls(start=begin, end=end, frames=frames)

    def describe(self) -> str:
        """The span in words, e.g. ``from 1.5 s to 4 s``."""
        parts = [f"from {self.start:g} s"]
        if self.end is not None:
            parts.append(f"to {self.end:g} s")
        if self.frames is not None:
            parts.append(f"at most {self.frames} frames")
        return " ".join(parts)


@dataclass(frozen=True)
class Warmup:
    """A frame before the span's start: for the model's state only, not written."""

    frame: Frame


class SpanSource:
    """The frames and other packets of ``span`` in ``source``, with the source's interface (``width``,
    ``height``, ``rate``, ``time_base``, ``audio``, ``others``, ``left_out``, ``timecode``,
    ``frame_count``); iterate once."""

    def __init__(self, source: VideoFileSource, span: Span) -> None:
        self.inner = source
        self.span = span
        self.source = source.source
        self.audio, self.others = source.audio, source.others
        self.left_out, self.timecode = list(source.left_out), source.timecode
        if span.start > 0 and source.timecode is not None:
            self.timecode = None
            why = f"it is the whole clip's, and this part starts at {span.start:g} s"
            self.left_out.append(("timecode", why))
        self.width, self.height = source.width, source.height
        self.rate, self.time_base = source.rate, source.time_base

    @property
    def frame_count(self) -> int | None:
        """The frames to be written when known in advance (``--frames`` within the clip), else ``None``."""
        total = self.inner.frame_count
        if self.span.frames is not None and self.span.start == 0 and self.span.end is None:
            return min(self.span.frames, total) if total else self.span.frames
        return None

    def __iter__(self) -> Iterator[Frame | Warmup | av.Packet]:
        span = self.span
        first = span.start if span.warmup_from is None else min(span.warmup_from, span.start)
        margin = _AUDIO_MARGIN if self.others else 0.0
        if first - margin > 0:
            self.inner.seek(first - margin)
        video = self.inner.video
        origin = Fraction(video.start_time or 0) * self.time_base  # the timeline's 0 in absolute seconds
        end = math.inf if span.end is None else span.end
        shift: Frame | None = None  # the first kept frame, once seen
        # Audio from the packet before the first one overlapping the start: AAC's decoder needs it to
        # rebuild the first samples (the edit list hides its own). From the start of the file: everything.
        lead = span.start if span.start > 0 else -math.inf
        held: list[tuple[float, av.Packet]] = []  # overlapping audio packets not yet passed by the video
        kept = 0
        for item in self.inner:
            if isinstance(item, av.Packet):
                seconds = float(item.pts * item.time_base - origin)
                if seconds >= end + margin:
                    break  # far enough past the end that no overlapping packet can follow
                if item.stream.type == "audio":
                    inside = seconds + 2 * float((item.duration or 0) * item.time_base) > lead
                else:  # a subtitle cue or data sample: kept when it starts inside
                    inside = seconds >= lead
                if seconds < end and inside:
                    held.append((seconds, item))
                continue
            if item.time < first:
                continue
            if item.time < span.start:
                yield Warmup(item)
                continue
            if item.time >= end or kept == span.frames:
                end = min(end, item.time)  # --frames: the stretch ends where the next frame starts
                if not self.others:
                    break
                continue
            shift = shift or item
            kept += 1
            yield self._rebased(item, shift, kept - 1)
            # Packets are released only once the video has passed them, as --frames may move the end.
            while held and held[0][0] <= item.time:
                yield self._shifted(held.pop(0)[1], shift)
        if shift is None:
            raise InputError(
                f"{self.source} has no frames {span.describe()}; check --start/--end against its length"
            )
        yield from (self._shifted(packet, shift) for seconds, packet in held if seconds < end)

    def _rebased(self, frame: Frame, first: Frame, index: int) -> Frame:
        pts = None if frame.pts is None or first.pts is None else frame.pts - first.pts
        return dataclasses.replace(frame, index=index, pts=pts)

    def _shifted(self, packet: av.Packet, first: Frame) -> av.Packet:
        if first.pts is None:
            return packet
        offset = round(Fraction(first.pts) * self.time_base / packet.time_base)
        packet.pts -= offset
        if packet.dts is not None:
            packet.dts -= offset
        return packet

    def close(self) -> None:
        self.inner.close()

    def __enter__(self) -> SpanSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
