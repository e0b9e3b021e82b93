"""File to file: decode → matting session → compositor → encode, overlapped in three threads.

The reader thread decodes ahead into a bounded queue, the calling thread runs the model, and the
writer thread composites (overlapping the model's work on the next frame), encodes and muxes. Frames
keep their order and their exact timestamps; audio packets travel through the same queues so the
writer interleaves them as they came.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import av
import torch

from livebg.backgrounds import parse_background
from livebg.compositing import Compositor
from livebg.config import ModelConfig
from livebg.errors import Interrupted, LivebgError, UsageError
from livebg.frames import Frame, to_tensor, to_uint8
from livebg.matting.factory import create_session
from livebg.matting.session import Matte, MattingSession
from livebg.sinks.image_file import ImageFileSink, is_image_path
from livebg.sinks.video_file import EncoderOptions, PngSequenceSink, VideoFileSink, is_png_sequence
from livebg.sources.video_file import VideoFileSource, is_url

log = logging.getLogger(__name__)

_DONE = object()
Sink = VideoFileSink | PngSequenceSink | ImageFileSink
_QUEUE_DEPTH = 8


@dataclass(frozen=True)
class VideoJob:
    """One clip to process. ``background`` is a ``--background`` spec (see livebg.backgrounds).

    ``batch``: consecutive frames given to the model at once; the output is the same. Several can keep
    a GPU busier (the encoder and refiner see them together); on a CPU they are slower (measured at
    720p with PyTorch: 6.2 fps with 1, 4.6 fps with 4).
    """

    input: str
    output: Path
    background: str = "green"
    output_type: str = "composite"
    overwrite: bool = False
    audio: bool = True
    encoder: EncoderOptions = field(default_factory=EncoderOptions)
    model: ModelConfig = field(default_factory=ModelConfig)
    batch: int = 1


@dataclass(frozen=True)
class JobResult:
    output: Path
    frames: int
    seconds: float

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0


ProgressFactory = Callable[[int | None], Any]


def process_video(
    job: VideoJob,
    *,
    session: MattingSession | None = None,
    progress: ProgressFactory | None = None,
) -> JobResult:
    """Run ``job``; returns what was written. Raises a :class:`LivebgError` on bad input or output,
    :class:`Interrupted` on Ctrl-C; in both cases nothing is left at the output path.

    ``session`` reuses an existing session (its state is reset); ``progress(total)`` returns an object
    with ``update(n)`` and ``close()`` (e.g. ``tqdm``).
    """
    if job.batch < 1:
        raise UsageError(f"--batch {job.batch}: give 1 or more frames per model call")
    background = parse_background(job.background)
    if not background.needs_matte and job.output_type != "composite":
        background.close()
        raise UsageError(f"--output-type {job.output_type} needs the model, but --background none skips it")
    try:
        with VideoFileSource(job.input, with_audio=job.audio) as source:
            alpha_out = job.output_type == "composite" and background.transparent
            protect = [] if is_url(job.input) else [Path(job.input)]
            if is_image_path(job.output):
                if (source.frame_count or 1) > 1:
                    raise UsageError(
                        f"output {job.output} is a single image but {job.input} has "
                        f"{source.frame_count} frames; use a video file or a PNG folder (a path ending in /)"
                    )
                sink: Sink = ImageFileSink(
                    job.output, alpha=alpha_out, overwrite=job.overwrite, protect=protect
                )
            elif is_png_sequence(job.output):
                sink = PngSequenceSink(job.output, alpha=alpha_out, overwrite=job.overwrite, protect=protect)
                if source.audio:
                    log.info("a PNG sequence has no audio: the input's audio is not kept")
            else:
                sink = VideoFileSink(
                    job.output,
                    width=source.width,
                    height=source.height,
                    rate=source.rate,
                    alpha=alpha_out,
                    overwrite=job.overwrite,
                    protect=protect,
                    time_base=source.time_base,
                    options=job.encoder,
                    audio_streams=source.audio,
                )
            with sink:
                if background.needs_matte and session is None:
                    session = create_session(job.model)
                    ratio = session.current_ratio(source.height, source.width)
                    log.info(
                        "%s on %s with %s, downsample ratio %.3g",
                        session.name,
                        session.device,
                        session.backend,
                        ratio,
                    )
                if session is not None:
                    session.reset()
                compositor = Compositor(background, output=job.output_type)
                bar = progress(source.frame_count) if progress else None
                try:
                    frames, seconds = _run(source, session, compositor, sink, bar, job.batch)
                finally:
                    if bar is not None:
                        bar.close()
    finally:
        background.close()
    return JobResult(job.output, frames, seconds)


def _run(
    source: VideoFileSource,
    session: MattingSession | None,
    compositor: Compositor,
    sink: Sink,
    bar: Any,
    batch: int = 1,
) -> tuple[int, float]:
    stop = threading.Event()
    decoded: queue.Queue[Any] = queue.Queue(_QUEUE_DEPTH)
    composited: queue.Queue[Any] = queue.Queue(_QUEUE_DEPTH)
    errors: list[BaseException] = []
    device = session.device if session is not None else None
    dtype = session.dtype if session is not None else None

    def reader() -> None:
        try:
            for item in source:
                if not _put(decoded, item, stop):
                    return
            _put(decoded, _DONE, stop)
        except BaseException as exc:
            errors.append(exc)
            stop.set()

    def writer() -> None:
        try:
            for item in _drain(composited, stop):
                if isinstance(item, av.Packet):
                    sink.mux(item)
                    continue
                src, matte, frame = item
                # Compositing here overlaps it with the model's work on the next frame.
                image = frame.rgb if matte is None else to_uint8(compositor(src, matte, frame.time))
                sink.write(image, time=frame.time, pts=frame.pts)
                if bar is not None:
                    bar.update(1)
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
        results = iter(_mattes(frames, session, device, dtype))
        for item in pending:
            if not _put(composited, next(results) if isinstance(item, Frame) else item, stop):
                return False
        pending.clear()
        frames.clear()
        return True

    try:
        for item in _drain(decoded, stop):
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
                _put(composited, _DONE, stop)
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


def _mattes(
    frames: list[Frame], session: MattingSession | None, device: Any, dtype: Any
) -> list[tuple[Any, Any, Frame]]:
    """``(src, matte, frame)`` per frame, the frames given to the model at once; without a session
    (background "none") the frames pass untouched."""
    if session is None or not frames:
        return [(None, None, frame) for frame in frames]
    tensors = [to_tensor(frame.rgb, device, dtype) for frame in frames]
    src = tensors[0] if len(tensors) == 1 else torch.cat(tensors)
    matte = session(src)
    fgr = matte.foreground
    return [
        (src[i : i + 1], Matte(matte.alpha[i : i + 1], None if fgr is None else fgr[i : i + 1]), frame)
        for i, frame in enumerate(frames)
    ]


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
