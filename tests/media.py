"""Small synthetic clips made in the tests (PyAV), probes of what a file holds, and real clips' frames
as the tensors a matting session takes."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import torch


def write_video(
    path: Path,
    pictures: Iterable[np.ndarray],
    *,
    rate: Fraction | int = 30,
    pts: list[int] | None = None,
    time_base: Fraction | None = None,
    crf: int = 0,
    pix_fmt: str = "yuv444p",
    audio: bool = False,
) -> Path:
    """An H.264 clip of ``uint8 (H, W, 3)`` RGB ``pictures`` at ``rate`` fps (crf 0 and 4:4:4 are
    lossless); ``pts`` gives explicit timestamps (variable frame rate) in ``time_base`` units;
    ``audio`` adds a mono AAC 440 Hz tone as long as the video."""
    pictures = list(pictures)
    height, width = pictures[0].shape[:2]
    if pts is None:
        pts, time_base = list(range(len(pictures))), 1 / Fraction(rate)
    elif time_base is None:
        raise ValueError("explicit pts need a time_base")
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=rate, options={"crf": str(crf), "preset": "ultrafast"})
        video.width, video.height, video.pix_fmt = width, height, pix_fmt
        video.time_base = time_base
        video.codec_context.time_base = time_base
        aud = None
        if audio:
            aud = out.add_stream("aac", rate=48000)
            aud.layout = "mono"
        for rgb, stamp in zip(pictures, pts, strict=True):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts, frame.time_base = stamp, time_base
            for packet in video.encode(frame):
                out.mux(packet)
        for packet in video.encode(None):
            out.mux(packet)
        if aud is not None:
            samples = int(len(pictures) / float(rate) * 48000)
            t = np.arange(samples) / 48000
            tone = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None, :]
            for start in range(0, samples, 1024):
                chunk = av.AudioFrame.from_ndarray(
                    tone[:, start : start + 1024], format="fltp", layout="mono"
                )
                chunk.sample_rate = 48000
                chunk.pts = start
                for packet in aud.encode(chunk):
                    out.mux(packet)
            for packet in aud.encode(None):
                out.mux(packet)
    return path


def make_clip(
    path: Path,
    *,
    size: tuple[int, int] = (64, 96),
    frames: int = 12,
    rate: Fraction = Fraction(24000, 1001),
    pts: list[int] | None = None,
    time_base: Fraction | None = None,
    audio: bool = False,
) -> Path:
    """An H.264 4:2:0 clip of ``frames`` frames (``size`` = (height, width)) whose frame ``i`` has a
    distinct colour; see :func:`write_video` for ``pts``, ``time_base`` and ``audio``."""
    pictures = []
    for i in range(frames):
        image = np.zeros((*size, 3), np.uint8)
        image[..., 0] = (37 * i) % 256
        image[..., 1] = 128
        image[..., 2] = 255 - (37 * i) % 256
        pictures.append(image)
    return write_video(
        path, pictures, rate=rate, pts=pts, time_base=time_base, crf=10, pix_fmt="yuv420p", audio=audio
    )


@dataclass
class Probe:
    frames: int
    times: list[Fraction]
    guessed_rate: Fraction | None
    audio_packets: list[tuple[int | None, int, bytes]]
    width: int
    height: int


def probe(path: Path) -> Probe:
    """Decoded frame count and exact presentation times, and every audio packet (pts, size, bytes)."""
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        rate = Fraction(v.guessed_rate) if v.guessed_rate else None
        times = [Fraction(f.pts) * f.time_base for f in c.decode(v)]
        width, height = v.codec_context.width, v.codec_context.height
    with av.open(str(path)) as c:
        packets = [
            (p.pts, p.size, bytes(p)) for s in c.streams.audio for p in c.demux(s) if p.dts is not None
        ]
    return Probe(len(times), times, rate, packets, width, height)


def read_frames(path: Path, fmt: str = "rgb24", codec: str | None = None) -> list[np.ndarray]:
    """Every frame of the first video stream as arrays (``codec`` forces a decoder, e.g. libvpx-vp9)."""
    with av.open(str(path)) as c:
        stream = c.streams.video[0]
        if codec is None:
            return [f.to_ndarray(format=fmt) for f in c.decode(stream)]
        ctx = av.CodecContext.create(codec, "r")
        out = []
        for packet in c.demux(stream):
            out += [f.to_ndarray(format=fmt) for f in ctx.decode(packet)]
        return out


def clip_tensors(
    path: Path, count: int, *, size: tuple[int, int] | None = None, long_side: int = 256
) -> list[torch.Tensor]:
    """The first ``count`` frames of ``path`` as ``(1, 3, H, W)`` float RGB in [0, 1]: at ``size``
    (height, width), or else with the longer side ``long_side`` (aspect kept, even sizes)."""
    out = []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        if size is None:
            width, height = stream.codec_context.width, stream.codec_context.height
            scale = long_side / max(width, height)
            size = (round(height * scale / 2) * 2, round(width * scale / 2) * 2)
        for frame in container.decode(stream):
            rgb = frame.to_ndarray(format="rgb24", width=size[1], height=size[0])
            out.append(torch.from_numpy(rgb).permute(2, 0, 1).unsqueeze(0).float().div(255))
            if len(out) == count:
                break
    return out


def levels(a: torch.Tensor, b: torch.Tensor) -> int:
    """Largest difference in uint8 levels after rounding both (floats in [0, 1]) to 0..255."""

    def to_u8(t: torch.Tensor) -> torch.Tensor:
        return t.mul(255).add(0.5).clamp(0, 255).to(torch.uint8).to(torch.int16)

    return int((to_u8(a) - to_u8(b)).abs().max())
