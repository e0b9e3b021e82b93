"""One long clip in chunks, processed apart (on several Ray workers at once) and joined losslessly.

The clip is split near every ``seconds`` (at a keyframe when one is near, so a chunk's decoding starts
there). Each chunk is processed from ``warmup`` frames before its start so that RVM's recurrent state
settles, and those frames are not written; it is encoded video-only, its timestamps starting at 0 (so
that no container rounds an initial offset). The chunks' packets are then copied, one after another
and shifted back by their chunk's exact start, into the output with the input's audio packets:
nothing is encoded twice, and the result has exactly the input's frames, timestamps and audio.
Chunks of an MKV output are MOV files (MKV keeps timestamps in milliseconds); a WebM's are WebM, so
its timestamps are the input's to the millisecond, as WebM files are anyway.

The default warm-up is measured (``benchmarks/batch.py``): the alpha right after a join, against an
uncut run of the same clip, for warm-ups of 0 to 60 frames.
"""

from __future__ import annotations

import contextlib
import heapq
import math
import shutil
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import av.error

from livebg.batch.inputs import Task
from livebg.errors import InputError, OutputError, UsageError
from livebg.sinks.png_sequence import is_png_sequence
from livebg.sinks.safe_write import Partial, check_output, existing_paths, output_error
from livebg.sinks.streams import StreamCopier, warn_left_out
from livebg.sources.media import side_streams_of, timecode_of
from livebg.sources.span import Span
from livebg.transcode import Progress, Result

DEFAULT_WARMUP = 30
"""Frames each chunk starts early (not written) so that the recurrent state settles before its first
written frame. Measured (``benchmarks/batch.py``, three shared clips, median, 1/255): the alpha at the
join differs from the uncut run's by 1.35 on average (99.9th percentile 79) with no warm-up, 0.38 (28)
after 5 frames, 0.24 (21) after 15, 0.17 (14) after 30 and 0.10 (9) after 60; past the first five
frames it halves per doubling, and 30 costs 1.7% more frames with one-minute chunks."""
_TRIM_OPTIONS = ("start", "end", "duration", "frames", "span")


@dataclass(frozen=True)
class Piece:
    """One chunk: its ``span`` of the input, and ``offset``, the exact time (seconds, on the input's
    absolute timeline) of its first frame, which its file puts at 0."""

    span: Span
    offset: Fraction


def plan_spans(source: str, seconds: float, warmup: int = DEFAULT_WARMUP) -> list[Piece]:
    """The chunks of ``source``: consecutive spans that together hold every frame once, each about
    ``seconds`` long, starting at a keyframe where one lies in the first half of the chunk, else at
    the first frame after each multiple of ``seconds``; each warms up on the ``warmup`` frames before
    it. Reads the packets' timestamps only (no decoding)."""
    if not seconds > 0:
        raise UsageError(f"--chunk-seconds {seconds}: give a length above 0 seconds")
    if warmup < 0:
        raise UsageError(f"--chunk-warmup {warmup}: give 0 or more frames")
    stamps, keys = _frame_times(source)
    times = [seconds for seconds, _ in stamps]
    bounds: list[float] = []
    target = (times[0] if times else 0.0) + seconds
    while times and target < times[-1]:
        key = next((k for k in keys if k >= target), math.inf)
        bound = key if key < target + seconds / 2 else next(t for t in times if t >= target)
        bounds.append(bound)
        target = bound + seconds
    pieces = []
    for start, end in zip([-math.inf, *bounds], [*bounds, None], strict=True):
        index = next((i for i, t in enumerate(times) if t >= start), 0)
        lead = None if index == 0 or warmup == 0 else times[max(0, index - warmup)]
        offset = stamps[index][1] if stamps else Fraction(0)
        pieces.append(Piece(Span(start=start, end=end, warmup_from=lead), offset))
    return pieces


def chunk_folder(task: Task) -> Path:
    """The hidden folder beside ``task``'s output that holds its chunks until they are joined."""
    return task.output.with_name(f".{task.output.name}.livebg-chunks")


def chunk_task(task: Task, index: int) -> Task:
    """The task of chunk ``index``: its outputs in :func:`chunk_folder`, named after the real ones."""
    folder = chunk_folder(task)
    suffix = ".mov" if task.output.suffix.lower() == ".mkv" else task.output.suffix
    extra = tuple((kind, folder / f"{index:05d}.{kind}{suffix}") for kind, _ in task.extra)
    return Task(task.source, folder / f"{index:05d}{suffix}", f"{task.key}#{index}", extra)


def chunk_options(options: Mapping[str, Any], span: Span) -> dict[str, Any]:
    """:meth:`livebg.Matter.process`'s keywords for one chunk: ``span``, video only."""
    return {**options, "span": span, "audio": False, "side_streams": False}


def check_options(options: Mapping[str, Any]) -> None:
    """Refuses options chunks cannot honour: a part of the clip (``start``, ``frames``...)."""
    trims = [name for name in _TRIM_OPTIONS if options.get(name) is not None]
    if trims:
        raise UsageError(f"--chunk-seconds cannot be combined with --{trims[0]}; cut the clip first")


def check(task: Task, options: Mapping[str, Any]) -> None:
    """Refuses what chunks cannot do: :func:`check_options`, or an output that is not one video file."""
    check_options(options)
    for path in task.outputs:
        if is_png_sequence(path):
            raise UsageError(f"--chunk-seconds writes video files, but {path} is a PNG folder; give a file")


def join(task: Task, parts: Sequence[Task], pieces: Sequence[Piece], *, audio: bool) -> None:
    """Copy the chunks' packets (``parts``' outputs, of ``pieces``) into ``task``'s outputs, in order,
    the main output with the input's audio (when ``audio``), subtitle and data packets and timecode
    (as :func:`livebg.transcode.process_video` keeps them); each output appears only when complete.
    Removes the chunks."""
    offsets = [piece.offset for piece in pieces]
    try:
        for index, path in enumerate(task.outputs):
            files = [part.outputs[index] for part in parts]
            _join_one(files, offsets, path, others_from=task.source if index == 0 else None, audio=audio)
    finally:
        shutil.rmtree(chunk_folder(task), ignore_errors=True)


def process_chunked(
    processor: Any,
    task: Task,
    options: Mapping[str, Any],
    seconds: float,
    *,
    warmup: int | None = None,
    progress: Progress | None = None,
) -> Result:
    """``task`` in chunks of about ``seconds``, one after another on ``processor`` (a
    :class:`livebg.Matter`), then joined: what ``--chunk-seconds`` does without Ray."""
    check(task, options)
    pieces = plan_spans(task.source, seconds, DEFAULT_WARMUP if warmup is None else warmup)
    parts = [chunk_task(task, index) for index in range(len(pieces))]
    chunk_folder(task).mkdir(exist_ok=True)
    frames, elapsed = 0, 0.0
    try:
        for part, piece in zip(parts, pieces, strict=True):
            extra = {f"{kind}_output": path for kind, path in part.extra}
            made = processor.process(
                part.source, part.output, overwrite=True, **extra, **chunk_options(options, piece.span)
            )
            frames += made.frames
            elapsed += made.seconds
            if progress is not None:
                progress(frames, None)
    except BaseException:
        shutil.rmtree(chunk_folder(task), ignore_errors=True)
        raise
    join(task, parts, pieces, audio=options.get("audio", True))
    return Result(task.output, frames, elapsed)


def _frame_times(source: str) -> tuple[list[tuple[float, Fraction]], list[float]]:
    """Every frame's time on the timeline of :attr:`livebg.frames.Frame.time` (computed the same way,
    so that the values compare equal) with its exact absolute time, and every keyframe's time; sorted."""
    try:
        with av.open(source) as container:
            video = container.streams.video[0]
            origin = video.start_time or 0
            base = Fraction(video.time_base)
            times, keys = [], []
            for packet in container.demux(video):
                if packet.pts is None or packet.is_discard:  # an edit list hides it: never decoded
                    continue
                seconds = float((packet.pts - origin) * base)
                times.append((seconds, packet.pts * base))
                if packet.is_keyframe:
                    keys.append(seconds)
    except (av.error.FFmpegError, IndexError) as exc:
        raise InputError(f"cannot read the frames of {source} to cut it into chunks ({exc})") from None
    return sorted(times), sorted(keys)


def _join_one(
    pieces: Sequence[Path], offsets: Sequence[Fraction], output: Path, *, others_from: str | None, audio: bool
) -> None:
    protect = existing_paths(*(str(piece) for piece in pieces), others_from)
    check_output(output, overwrite=True, protect=protect)
    partial = Partial(output, protect=protect)
    try:
        with contextlib.ExitStack() as stack:
            out = stack.enter_context(av.open(str(partial.path), "w"))
            first = stack.enter_context(av.open(str(pieces[0])))
            video = out.add_stream_from_template(first.streams.video[0])
            streams: list[Iterator[av.Packet]] = [_packets(pieces, offsets, video)]
            if others_from is not None:
                source = stack.enter_context(av.open(others_from))
                others = [*(source.streams.audio if audio else ()), *side_streams_of(source)]
                timecode = timecode_of(source)
                if timecode is not None:
                    video.metadata["timecode"] = timecode
                copier = StreamCopier(out, others, output)
                warn_left_out(copier.left_out, output)
                if others:
                    streams.append(_others(source, others, copier))
            for packet in heapq.merge(*streams, key=_time):
                out.mux(packet)
        partial.publish(overwrite=True)
    except (av.error.FFmpegError, ValueError) as exc:
        partial.discard()
        raise OutputError(
            f"cannot join the chunks into {output} ({exc}); try .mkv, or --no-audio, or no --chunk-seconds"
        ) from None
    except OSError as exc:
        partial.discard()
        raise output_error(exc, output) from None
    except BaseException:
        partial.discard()
        raise


def _packets(
    pieces: Sequence[Path], offsets: Sequence[Fraction], stream: av.VideoStream
) -> Iterator[av.Packet]:
    """The video packets of ``pieces`` in order, each shifted back by its piece's offset."""
    for piece, offset in zip(pieces, offsets, strict=True):
        with av.open(str(piece)) as container:
            video = container.streams.video[0]
            ticks = round(offset / Fraction(video.time_base))  # exact where the time bases allow
            for packet in container.demux(video):
                if packet.size and packet.dts is not None:
                    packet.pts += ticks
                    packet.dts += ticks
                    packet.stream = stream
                    yield packet


def _others(
    source: av.container.InputContainer, streams: Sequence[av.stream.Stream], copier: StreamCopier
) -> Iterator[av.Packet]:
    for packet in source.demux(*streams):
        carried = copier.carry(packet) if packet.dts is not None else None
        if carried is not None:
            yield carried


def _time(packet: av.Packet) -> Fraction:
    return packet.dts * packet.time_base
