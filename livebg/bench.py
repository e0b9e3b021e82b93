"""`livebg bench`: time per frame of every stage, for each available inference backend.

Stages are timed one after another on the same frames (decode, model, composite, encode), after a
warm-up; then the whole threaded file pipeline runs on the same frames for the end-to-end rate, and
the capture-to-output latency of the live path is measured frame by frame (each frame from the moment
it is decoded to the moment its composite is ready to be shown).
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from livebg.backgrounds import parse_background
from livebg.compositing import Compositor
from livebg.config import ModelConfig
from livebg.frames import Frame
from livebg.matting.factory import create_session
from livebg.sinks.encoding import EncoderOptions
from livebg.sinks.video_file import VideoFileSink
from livebg.sources.video_file import VideoFileSource
from livebg.step import FrameStep, StageTimer
from livebg.transcode import VideoJob, process_video

_WARMUP = 3


@dataclass(frozen=True)
class BenchConfig:
    """``clip``: a video to read frames from (``None``: synthetic frames of ``size`` = (height, width))."""

    clip: Path | None = None
    frames: int = 30
    size: tuple[int, int] = (720, 1280)
    backends: tuple[str, ...] = ("torch", "onnxruntime", "openvino")
    background: str = "blur"
    model: ModelConfig = field(default_factory=ModelConfig)


@dataclass(frozen=True)
class BenchResult:
    backend: str
    ratio: float
    decode_ms: float
    model_ms: float
    composite_ms: float
    encode_ms: float
    pipeline_fps: float
    latency_ms: float
    latency_p95_ms: float
    frames: int = 0
    pipeline_frames: int = 0
    error: str | None = None

    @property
    def model_fps(self) -> float:
        return 1000.0 / self.model_ms if self.model_ms else 0.0


def _frames(config: BenchConfig) -> tuple[list[np.ndarray], float]:
    """The frames to use and the time it took to decode each (ms; 0 for synthetic ones)."""
    if config.clip is None:
        rng = np.random.default_rng(0)
        h, w = config.size
        base = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        return [np.roll(base, 4 * i, axis=1) for i in range(config.frames)], 0.0
    frames = []
    start = time.perf_counter()
    with VideoFileSource(config.clip, with_audio=False) as source:
        for item in source:
            frames.append(item.rgb)
            if len(frames) == config.frames:
                break
    return frames, 1000 * (time.perf_counter() - start) / len(frames)


def _write_clip(frames: list[np.ndarray], path: Path) -> Path:
    """The synthetic frames as a nearly lossless 30 fps clip, for the file pipeline's run."""
    h, w = frames[0].shape[:2]
    options = EncoderOptions(crf=12, preset="ultrafast")
    with VideoFileSink(path, width=w, height=h, rate=Fraction(30), options=options) as sink:
        for i, rgb in enumerate(frames):
            sink.write(rgb, time=i / 30)
    return path


def _encode_ms(images: list[np.ndarray]) -> float:
    h, w = images[0].shape[:2]
    with av.open(os.devnull, "w", format="matroska") as out:
        stream = out.add_stream("libx264", rate=30, options={"crf": "17", "preset": EncoderOptions().preset})
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        start = time.perf_counter()
        for rgb in images:
            for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return 1000 * (time.perf_counter() - start) / len(images)


def run_bench(config: BenchConfig) -> Iterator[BenchResult]:
    """Yields one result per backend, as each finishes (a backend that cannot run gets ``error``)."""
    frames, decode_ms = _frames(config)
    with tempfile.TemporaryDirectory() as tmp:
        clip = _write_clip(frames, Path(tmp) / "bench.mp4") if config.clip is None else config.clip
        for backend in config.backends:
            model = replace(config.model, backend=backend)
            try:
                yield _bench_backend(frames, decode_ms, clip, config, model, Path(tmp))
            except Exception as exc:  # one backend failing must not hide the others' figures
                yield BenchResult(
                    backend, 0, decode_ms, 0, 0, 0, 0, 0, 0, error=str(exc) or type(exc).__name__
                )


def _bench_backend(
    frames: list[np.ndarray], decode_ms: float, clip: Path, config: BenchConfig, model: ModelConfig, tmp: Path
) -> BenchResult:
    session = create_session(model)
    background = parse_background(config.background)
    step = FrameStep(session, Compositor(background))
    h, w = frames[0].shape[:2]
    ratio = session.current_ratio(h, w)
    for i, rgb in enumerate(frames[:_WARMUP]):
        step(Frame(rgb, i, i / 30))
    step.reset()

    step.timer = StageTimer(session.device, window=len(frames))  # the warm-up's times do not count
    latencies, images = [], []
    for i, rgb in enumerate(frames):
        frame = Frame(rgb, i, i / 30)
        images.append(step(frame))
        latencies.append(1000 * (time.perf_counter() - frame.captured_at) + decode_ms)
    encode_ms = _encode_ms(images)

    job = VideoJob(str(clip), tmp / f"out-{model.backend}.mp4", background=config.background, overwrite=True)
    job = replace(job, model=model, audio=False)
    start = time.perf_counter()
    result = process_video(job, session=session)
    pipeline_fps = result.frames / (time.perf_counter() - start)
    background.close()
    return BenchResult(
        backend=session.backend,
        ratio=ratio,
        decode_ms=decode_ms,
        model_ms=step.timer.median_ms("model"),
        composite_ms=step.timer.median_ms("composite"),
        encode_ms=encode_ms,
        pipeline_fps=pipeline_fps,
        latency_ms=statistics.median(latencies),
        latency_p95_ms=float(np.percentile(latencies, 95)),
        frames=len(step.timer.runs("model")),
        pipeline_frames=result.frames,
    )


def format_table(results: list[BenchResult]) -> str:
    header = (
        f"{'backend':<12} {'ratio':>5} {'decode':>7} {'model':>7} {'compose':>8} {'encode':>7} "
        f"{'model fps':>9} {'e2e fps':>8} {'latency p50/p95':>16}"
    )
    lines = [header, "-" * len(header)]
    for r in results:
        if r.error:
            lines.append(f"{r.backend:<12} unavailable: {r.error}")
            continue
        lines.append(
            f"{r.backend:<12} {r.ratio:>5.3f} {r.decode_ms:>5.1f}ms {r.model_ms:>5.1f}ms "
            f"{r.composite_ms:>6.1f}ms "
            f"{r.encode_ms:>5.1f}ms {r.model_fps:>9.1f} {r.pipeline_fps:>8.1f} "
            f"{r.latency_ms:>7.0f}/{r.latency_p95_ms:<4.0f}ms"
        )
    return "\n".join(lines)
