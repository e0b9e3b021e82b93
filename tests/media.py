"""Small synthetic clips made in the tests (PyAV), probes of what a file holds, and real clips' frames
as the tensors a matting session takes."""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import cv2
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
    codec: str = "libx264",
    rotation: int = 0,
    hflip: bool = False,
    muxer_options: dict[str, str] | None = None,
    extra_streams: bool = False,
    timecode: str | None = None,
) -> Path:
    """A clip of ``uint8 (H, W, 3)`` RGB ``pictures`` at ``rate`` fps, H.264 unless ``codec`` says
    otherwise (crf 0 and 4:4:4 are lossless); ``pts`` gives explicit timestamps (variable frame rate) in
    ``time_base`` units; ``audio`` adds a mono AAC 440 Hz tone as long as the video.

    ``rotation`` (counter-clockwise degrees, as ``VideoFrame.rotation`` reads it) and ``hflip`` write a
    display matrix, as phones do: a player turns the pictures by ``rotation`` and then mirrors them.
    ``muxer_options`` go to the muxer (e.g. ``{"movflags": "faststart"}``: index at the front).
    ``extra_streams`` (MP4/MOV) puts a subtitle and a data stream before the video and a second, smaller
    video stream after it. ``timecode`` (``HH:MM:SS:FF``) tags the video, which MP4 and MOV store as a
    timecode track."""
    pictures = list(pictures)
    height, width = pictures[0].shape[:2]
    if pts is None:
        pts, time_base = list(range(len(pictures))), 1 / Fraction(rate)
    elif time_base is None:
        raise ValueError("explicit pts need a time_base")
    with av.open(str(path), "w", options=muxer_options or {}) as out:
        side: list[tuple[av.stream.Stream, bytes]] = []  # one packet each at 0 s
        if extra_streams:
            side = [
                (out.add_mux_stream("mov_text", time_base=Fraction(1, 1000)), b"\x00\x02hi"),
                (out.add_data_stream("bin_data"), b"\x01\x02"),
            ]
        options = {"crf": str(crf), "preset": "ultrafast"} if codec == "libx264" else {}
        video = out.add_stream(codec, rate=rate, options=options)
        video.width, video.height, video.pix_fmt = width, height, pix_fmt
        video.time_base = time_base
        video.codec_context.time_base = time_base
        if rotation or hflip:
            video.set_display_rotation(rotation, hflip=hflip)
        if timecode is not None:
            video.metadata["timecode"] = timecode
        second = None
        if extra_streams:
            second = out.add_stream("libx264", rate=rate, options={"preset": "ultrafast"})
            second.width, second.height, second.pix_fmt = 32, 16, "yuv420p"
        aud = None
        if audio:
            aud = out.add_stream("aac", rate=48000)
            aud.layout = "mono"
        for stream, payload in side:
            sample = av.Packet(payload)
            sample.stream, sample.pts, sample.dts, sample.duration = stream, 0, 0, 100
            sample.time_base = Fraction(1, 1000)
            out.mux(sample)
        for rgb, stamp in zip(pictures, pts, strict=True):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts, frame.time_base = stamp, time_base
            for packet in video.encode(frame):
                out.mux(packet)
            if second is not None:
                small = av.VideoFrame.from_ndarray(np.full((16, 32, 3), 200, np.uint8), format="rgb24")
                small.pts, small.time_base = stamp, time_base
                out.mux(second.encode(small))
        for packet in video.encode(None):
            out.mux(packet)
        if second is not None:
            out.mux(second.encode(None))
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


MARK_RED, MARK_GREEN = (255, 0, 0), (0, 255, 0)


def marked(height: int = 48, width: int = 64, frames: int = 3) -> list[np.ndarray]:
    """Grey ``uint8 (H, W, 3)`` RGB pictures with a red square at the top left and a green one at the top
    right (12 px each), to tell which way up a picture came out (:func:`marker_corners`)."""
    picture = np.full((height, width, 3), 90, np.uint8)
    picture[:12, :12] = MARK_RED
    picture[:12, -12:] = MARK_GREEN
    return [picture] * frames


def marker_corners(rgb: np.ndarray) -> tuple[str | None, str | None]:
    """The corner (``"TL"``, ``"TR"``, ``"BL"``, ``"BR"``) of the red and of the green square of a
    :func:`marked` picture however it was turned; None for a colour not in exactly one corner."""
    h, w = rgb.shape[:2]
    at = {"TL": rgb[5, 5], "TR": rgb[5, w - 6], "BL": rgb[h - 6, 5], "BR": rgb[h - 6, w - 6]}
    found: list[str | None] = []
    for colour in (MARK_RED, MARK_GREEN):
        hits = [name for name, pixel in at.items() if np.abs(pixel.astype(int) - colour).max() < 60]
        found.append(hits[0] if len(hits) == 1 else None)
    return found[0], found[1]


def write_jpeg(path: Path, rgb: np.ndarray, *, orientation: int | None = None) -> Path:
    """``uint8 (H, W, 3)`` RGB as a JPEG (quality 95) carrying the EXIF ``orientation`` tag (1-8) when
    given, as cameras and phones write it: the pixels stay as stored, a viewer turns them."""
    ok, encoded = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 95])
    if not ok:
        raise ValueError("OpenCV could not encode the JPEG")
    data = encoded.tobytes()
    if orientation is not None:
        # An APP1 segment right after the start-of-image marker: "Exif", a big-endian TIFF header and
        # one IFD holding tag 0x0112 (orientation, one SHORT).
        ifd = (
            struct.pack(">H", 1) + struct.pack(">HHIHH", 0x0112, 3, 1, orientation, 0) + struct.pack(">I", 0)
        )
        exif = b"Exif\x00\x00" + b"MM\x00\x2a" + struct.pack(">I", 8) + ifd
        data = data[:2] + b"\xff\xe1" + struct.pack(">H", len(exif) + 2) + exif + data[2:]
    path.write_bytes(data)
    return path


@dataclass
class Probe:
    frames: int
    times: list[Fraction]
    guessed_rate: Fraction | None
    audio_packets: list[tuple[int | None, int, bytes]]
    width: int
    height: int
    rotation: int = 0


def probe(path: Path) -> Probe:
    """Decoded frame count and exact presentation times, every audio packet (pts, size, bytes), the
    stored size and the display rotation a player applies (``VideoFrame.rotation`` of the first frame)."""
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        rate = Fraction(v.guessed_rate) if v.guessed_rate else None
        frames = list(c.decode(v))
        times = [Fraction(f.pts) * f.time_base for f in frames]
        rotation = frames[0].rotation if frames else 0
        width, height = v.codec_context.width, v.codec_context.height
    with av.open(str(path)) as c:
        packets = [
            (p.pts, p.size, bytes(p)) for s in c.streams.audio for p in c.demux(s) if p.dts is not None
        ]
    return Probe(len(times), times, rate, packets, width, height, rotation)


def side_packets(path: Path) -> list[tuple[str, Fraction, Fraction, bytes]]:
    """Every subtitle and data packet of ``path``: (stream type, time and duration in seconds, bytes)."""
    with av.open(str(path)) as c:
        streams = [s for s in c.streams if s.type in ("subtitle", "data")]
        return [
            (p.stream.type, p.pts * p.time_base, p.duration * p.time_base, bytes(p))
            for p in c.demux(*streams)
            if p.dts is not None
        ]


def timecodes(path: Path) -> set[str]:
    """The timecode tags of ``path``'s streams (a tmcd track's or a Matroska tag's)."""
    with av.open(str(path)) as c:
        return {v for s in c.streams for k, v in s.metadata.items() if k.lower() == "timecode"}


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


def solid(colour: tuple[int, int, int], size: tuple[int, int] = (120, 160)) -> np.ndarray:
    """A ``uint8 (H, W, 3)`` RGB picture of one colour; ``size`` = (height, width)."""
    return np.full((*size, 3), colour, np.uint8)


def moving_square(i: int, size: tuple[int, int] = (120, 160)) -> np.ndarray:
    """Green picture with a red 32x32 square that moves 8 px to the right per frame."""
    rgb = solid((0, 255, 0), size)
    x = (8 * i) % (size[1] - 32)
    rgb[40:72, x : x + 32] = (255, 0, 0)
    return rgb
