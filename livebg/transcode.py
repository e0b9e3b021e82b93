"""File to file: decode → matting session → compositor → encode, overlapped in three threads.

The reader thread decodes ahead into a bounded queue, the calling thread runs the model, and the
writer thread composites (overlapping the model's work on the next frame), encodes and muxes. Frames
keep their order and their exact timestamps; audio packets travel through the same queues so the
writer interleaves them as they came.

Longer than most modules (about 400 lines) on purpose: the three threads, their bounded hand-offs and
the one shutdown path that every error and Ctrl-C takes are a single protocol, easier to check whole.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import av

from livebg.backgrounds import parse_background
from livebg.compositing import Compositor
from livebg.config import ModelConfig
from livebg.errors import Interrupted, LivebgError, UsageError
from livebg.frames import Frame
from livebg.matting.factory import create_session
from livebg.matting.session import MattingSession
from livebg.sinks.encoding import EncoderOptions
from livebg.sinks.image_file import ImageFileSink
from livebg.sinks.png_sequence import PngSequenceSink, is_png_sequence
from livebg.sinks.safe_write import existing_paths
from livebg.sinks.streams import warn_left_out
from livebg.sinks.video_file import VideoFileSink
from livebg.sources.image_file import ImageFileSource, is_image_path
from livebg.sources.media import describe
from livebg.sources.span import Span, SpanSource, Warmup
from livebg.sources.video_file import VideoFileSource
from livebg.step import FrameStep, Matted, StageTimer

log = logging.getLogger(__name__)

_DONE = object()
Sink = VideoFileSink | PngSequenceSink | ImageFileSink
Source = VideoFileSource | ImageFileSource | SpanSource
_QUEUE_DEPTH = 8


@dataclass(frozen=True)
class VideoJob:
    """One clip to process. ``background`` is a ``--background`` spec (see livebg.backgrounds).

    ``batch``: consecutive frames given to the model at once; the output is the same. Several can keep
    a GPU busier (the encoder and refiner see them together); on a CPU they are slower (measured at
    720p with PyTorch: 6.2 fps with 1, 4.6 fps with 4). ``still_passes``: how many times a still image
    input is shown to the model before its matte is taken (a recurrent model settles on it).
    ``allow_truncated``: keep what is readable of a cut-off input (with a warning) instead of failing.
    ``side_streams``: also copy the input's subtitle and data streams and its timecode into the main
    output, where its container holds them (one warning names what it cannot).
    ``span``: the stretch of a clip to process (``None``: all of it; ignored for a still).
    ``alpha_output``/``foreground_output``: also write the matte (grey) and the person's colours there,
    from the same model pass (no audio in those).
    """

    input: str
    output: Path
    background: str = "green"
    output_type: str = "composite"
    overwrite: bool = False
    audio: bool = True
    side_streams: bool = True
    encoder: EncoderOptions = field(default_factory=EncoderOptions)
    model: ModelConfig = field(default_factory=ModelConfig)
    batch: int = 1
    still_passes: int = 1
    allow_truncated: bool = False
    span: Span | None = None
    alpha_output: Path | None = None
    foreground_output: Path | None = None

    @classmethod
    def create(
        cls,
        input: str | Path,
        output: str | Path,
        *,
        model: ModelConfig | None = None,
        background: str = "green",
        output_type: str = "composite",
        overwrite: bool = False,
        audio: bool = True,
        side_streams: bool = True,
        codec: str | None = None,
        crf: int | None = None,
        preset: str = "medium",
        pix_fmt: str | None = None,
        batch: int = 1,
        still_passes: int = 1,
        allow_truncated: bool = False,
        start: float | None = None,
        end: float | None = None,
        duration: float | None = None,
        frames: int | None = None,
        span: Span | None = None,
        alpha_output: str | Path | None = None,
        foreground_output: str | Path | None = None,
    ) -> VideoJob:
        """A job from the flat options of ``livebg video`` (and :func:`livebg.process`); ``start``,
        ``end``, ``duration`` (seconds) and ``frames`` mean what ffmpeg's ``-ss``, ``-to``, ``-t`` and
        ``-frames:v`` do; ``span`` gives the same as a :class:`Span` instead."""
        trim = Span.create(start, end, duration, frames)
        if span is not None and trim is not None:
            raise UsageError("give either a span or start/end/duration/frames, not both")
        return cls(
            input=str(input),
            output=Path(output),
            background=background,
            output_type=output_type,
            overwrite=overwrite,
            audio=audio,
            side_streams=side_streams,
            encoder=EncoderOptions(codec=codec, crf=crf, preset=preset, pixel_format=pix_fmt),
            model=model or ModelConfig(),
            batch=batch,
            still_passes=still_passes,
            allow_truncated=allow_truncated,
            span=span or trim,
            alpha_output=None if alpha_output is None else Path(alpha_output),
            foreground_output=None if foreground_output is None else Path(foreground_output),
        )

    @property
    def extra_outputs(self) -> dict[str, Path]:
        """The outputs written beside :attr:`output`, by output type (``alpha``, ``foreground``)."""
        extra = {"alpha": self.alpha_output, "foreground": self.foreground_output}
        return {kind: path for kind, path in extra.items() if path is not None}


@dataclass(frozen=True)
class Result:
    """What a job wrote: ``output``, the number of ``frames`` and the wall time in ``seconds``."""

    output: Path
    frames: int
    seconds: float

    @property
    def fps(self) -> float:
        """Frames per second of wall time."""
        return self.frames / self.seconds if self.seconds > 0 else 0.0


Progress = Callable[[int, int | None], None]
"""``progress(done, total)``: frames written so far and the total (``None`` when the container does
not say); called once with 0 before the first frame, then after each frame, from the writer thread."""


def process_video(
    job: VideoJob,
    *,
    session: MattingSession | None = None,
    progress: Progress | None = None,
    timer: StageTimer | None = None,
) -> Result:
    """Run ``job``; returns what was written. Raises a :class:`LivebgError` on bad input or output,
    :class:`Interrupted` on Ctrl-C; in both cases nothing is left at the output path.

    ``session`` reuses an existing session (its state is reset); ``progress`` is told how far the job
    is (see :data:`Progress`); ``timer`` receives the time of every stage.
    """
    if job.batch < 1:
        raise UsageError(f"--batch {job.batch}: give 1 or more frames per model call")
    if job.still_passes < 1:
        raise UsageError(f"still_passes={job.still_passes}: give 1 or more")
    background = parse_background(job.background)
    if not background.needs_matte and (job.output_type != "composite" or job.extra_outputs):
        background.close()
        raise UsageError(
            f"--output-type {job.output_type} and --alpha-output/--foreground-output need the model, "
            "but --background none skips it"
        )
    paths = [job.output, *job.extra_outputs.values()]
    if len({Path(os.path.abspath(path)) for path in paths}) < len(paths):
        background.close()
        raise UsageError(f"outputs {', '.join(map(str, paths))} repeat a path; give each output its own")
    try:
        still = is_image_path(job.input)
        with ExitStack() as stack:
            source = stack.enter_context(_open_source(job, still))
            renderers = [(job.output_type, job.output), *job.extra_outputs.items()]
            sinks = []
            for index, (kind, path) in enumerate(renderers):
                alpha = kind == "composite" and background.transparent
                sinks.append(stack.enter_context(_open_sink(job, source, path, alpha, main=index == 0)))
            if background.needs_matte:
                session = session or create_session(job.model)
                log.info(
                    "%s on %s with %s, downsample ratio %.3g",
                    session.name,
                    session.device,
                    session.backend,
                    session.current_ratio(source.height, source.width),
                )
            main = FrameStep(session, Compositor(background, output=job.output_type), timer=timer)
            main.reset()
            extra = [
                FrameStep(session, Compositor(background, output=kind), timer=main.timer)
                for kind in job.extra_outputs
            ]
            steps = [main, *extra]
            total = source.frame_count
            if progress is not None:
                progress(0, total)
            passes = job.still_passes if still else 1
            outputs = list(zip(steps, sinks, strict=True))
            frames, seconds = _run(source, outputs, _counter(progress, total), job.batch, passes)
    finally:
        background.close()
    return Result(job.output, frames, seconds)


def _open_source(job: VideoJob, still: bool) -> Source:
    if still:
        return ImageFileSource(job.input)
    source = VideoFileSource(
        job.input,
        with_audio=job.audio,
        with_side_streams=job.side_streams,
        allow_truncated=job.allow_truncated,
    )
    if job.span is None:
        return source
    return SpanSource(source, job.span)


def _open_sink(job: VideoJob, source: Source, path: Path, alpha: bool, *, main: bool) -> Sink:
    """The sink for ``path``, by its form: an image file, a PNG folder or a video file (with the input's
    other streams when it is the ``main`` output); for the main output, one warning names the input's
    streams it does not keep."""
    # Never written: the input, the background and the weights (those that are files).
    protect = existing_paths(job.input, job.background, job.model.weights)
    if is_image_path(path):
        if (source.frame_count or 1) > 1:
            raise UsageError(
                f"output {path} is a single image but {job.input} has "
                f"{source.frame_count} frames; use a video file or a PNG folder (a path ending in /)"
            )
        sink: Sink = ImageFileSink(path, alpha=alpha, overwrite=job.overwrite, protect=protect)
    elif is_png_sequence(path):
        sink = PngSequenceSink(
            path, alpha=alpha, overwrite=job.overwrite, protect=protect, expected_frames=source.frame_count
        )
    else:
        sink = VideoFileSink(
            path,
            width=source.width,
            height=source.height,
            rate=source.rate,
            alpha=alpha,
            overwrite=job.overwrite,
            protect=protect,
            time_base=source.time_base,
            options=job.encoder,
            streams=source.others if main else (),
            timecode=source.timecode if main else None,
            expected_frames=source.frame_count,
        )
    if main:
        warn_left_out([*source.left_out, *_not_in(sink, source)], path)
    return sink


def _not_in(sink: Sink, source: Source) -> list[tuple[str, str]]:
    """The input's other streams that ``sink`` does not keep, in words, with why."""
    if isinstance(sink, VideoFileSink):
        return sink.left_out
    why = f"{'an image' if isinstance(sink, ImageFileSink) else 'a PNG sequence'} holds only the frames"
    timecode = [("timecode", why)] if source.timecode else []
    return [*((describe(s), why) for s in source.others), *timecode]


def _counter(progress: Progress | None, total: int | None) -> Callable[[], None] | None:
    """A function to call after each frame written, which tells ``progress`` the running count."""
    if progress is None:
        return None
    done = 0

    def written() -> None:
        nonlocal done
        done += 1
        progress(done, total)

    return written


def _run(
    source: Source,
    outputs: list[tuple[FrameStep, Sink]],
    written: Callable[[], None] | None,
    batch: int = 1,
    still_passes: int = 1,
) -> tuple[int, float]:
    stop = threading.Event()
    decoded: queue.Queue[Any] = queue.Queue(_QUEUE_DEPTH)
    matted: queue.Queue[Any] = queue.Queue(_QUEUE_DEPTH)
    errors: list[BaseException] = []
    step, sink = outputs[0]  # the main output; it alone receives the audio
    timer = step.timer

    def reader() -> None:
        try:
            items = iter(source)
            while True:
                began = time.perf_counter()
                item = next(items, _DONE)
                if isinstance(item, Frame):
                    timer.add("decode", time.perf_counter() - began)
                if not _put(decoded, item, stop) or item is _DONE:
                    return
        except BaseException as exc:
            errors.append(exc)
            stop.set()

    def writer() -> None:
        try:
            for item in _drain(matted, stop):
                if isinstance(item, av.Packet):
                    sink.mux(item)
                    continue
                # Compositing here overlaps it with the model's work on the next frame.
                images = [renderer.render(item) for renderer, _ in outputs]
                with timer.stage("output"):
                    for (_, out), image in zip(outputs, images, strict=True):
                        out.write(image, time=item.frame.time, pts=item.frame.pts)
                if written is not None:
                    written()
        except BaseException as exc:
            errors.append(exc)
            stop.set()

    threads = [
        threading.Thread(target=reader, name="livebg-decode"),
        threading.Thread(target=writer, name="livebg-encode"),
    ]
    for t in threads:
        t.start()
    started = time.perf_counter()
    count = 0
    # Frames waiting for a full batch, with the audio packets between them, in their order.
    pending: list[Any] = []
    frames: list[Frame] = []

    def flush() -> bool:
        if still_passes > 1 and len(frames) == 1:  # a still image: let the model settle on it
            results: Iterator[Matted] = iter([step.matte_still(frames[0], still_passes)])
        else:
            results = iter(step.matte(frames))
        for item in pending:
            if not _put(matted, next(results) if isinstance(item, Frame) else item, stop):
                return False
        pending.clear()
        frames.clear()
        return True

    try:
        for item in _drain(decoded, stop):
            if isinstance(item, Warmup):  # for the model's state only (a chunk's lead-in)
                if not flush():
                    break
                step.matte([item.frame])
                continue
            if isinstance(item, Frame):
                if frames and item.rgb.shape != frames[0].rgb.shape and not flush():
                    break  # a batch holds frames of one size
                frames.append(item)
                count += 1
            pending.append(item)
            if len(frames) == batch and not flush():
                break
        else:
            if flush():
                _put(matted, _DONE, stop)
    except KeyboardInterrupt:
        stop.set()
        errors.append(Interrupted(f"interrupted after {count} frames; no output was written to {sink.path}"))
    except BaseException as exc:
        stop.set()
        errors.append(exc)
    finally:
        for t in threads:
            t.join()
    if errors:
        raise _first_error(errors)
    return count, time.perf_counter() - started


def _first_error(errors: list[BaseException]) -> BaseException:
    """The error to report: the user's own interruption, then our own errors, then anything else."""
    for kinds in ((Interrupted,), (LivebgError,)):
        for exc in errors:
            if isinstance(exc, kinds):
                return exc
    return errors[0]


def _put(q: queue.Queue[Any], item: Any, stop: threading.Event) -> bool:
    while not stop.is_set():
        try:
            q.put(item, timeout=0.1)
            return True
        except queue.Full:
            continue
    return False


def _drain(q: queue.Queue[Any], stop: threading.Event) -> Iterator[Any]:
    while not stop.is_set():
        try:
            item = q.get(timeout=0.1)
        except queue.Empty:
            continue
        if item is _DONE:
            return
        yield item
