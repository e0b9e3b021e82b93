"""Writing the result to a video file (PyAV) or a PNG sequence, so that no user data is ever lost.

The output is written under a hidden temporary name in the same folder and moved into place only when
it is complete; an interrupted or failed job leaves nothing at the output path (and an existing output
stays untouched until the new one is complete). The input is never overwritten.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TypeVar

import av
import av.error
import cv2
import numpy as np

from livebg.errors import OutputError, UsageError

log = logging.getLogger(__name__)

ALPHA_FORMATS = ".mov (ProRes 4444), .webm (VP9 with alpha) or a PNG sequence folder (a path ending in /)"
_VIDEO_SUFFIXES = {".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi"}


@dataclass(frozen=True)
class EncoderOptions:
    """Video encoder settings. ``None`` picks the default for the container: H.264 yuv420p CRF 17
    (visually lossless) for .mp4/.mkv/.mov/.avi, VP9 CRF 18 for .webm, ProRes 4444 for .mov with alpha."""

    codec: str | None = None
    crf: int | None = None
    preset: str = "medium"
    pixel_format: str | None = None


_S = TypeVar("_S", bound="FinishOnExit")


class FinishOnExit:
    """Context-manager rule of every file sink: leaving the ``with`` block normally finishes the output
    (``close()``), leaving it by an exception drops it (``abort()``)."""

    def close(self) -> None:
        raise NotImplementedError

    def abort(self) -> None:
        raise NotImplementedError

    def __enter__(self: _S) -> _S:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


@dataclass(frozen=True)
class _Plan:
    codec: str
    pixel_format: str
    options: dict[str, str]


def is_png_sequence(path: Path | str) -> bool:
    """A path ending in a separator, an existing folder, or one without a suffix is a PNG sequence."""
    text = str(path)
    return text.endswith(("/", os.sep)) or Path(text).is_dir() or Path(text).suffix == ""


def check_output_path(output: Path, *, overwrite: bool, protect: Sequence[Path | str] = ()) -> None:
    """Refuse an output that is one of the inputs (also through links) or exists without ``overwrite``."""
    out = Path(output)
    for item in protect:
        src = Path(item)
        same = out.resolve() == src.resolve()
        if not same and out.exists() and src.exists():
            same = os.path.samefile(out, src)
        if same:
            raise OutputError(f"output {out} is the input file {src}; choose another output path")
    if out.exists() and not overwrite:
        raise OutputError(
            f"output {out} already exists; pass --overwrite to replace it or choose another path"
        )
    if not out.parent.exists():
        raise OutputError(
            f"folder {out.parent} does not exist; create it first or choose another output path"
        )


def partial_path(output: Path) -> Path:
    """Hidden sibling that keeps the suffix, so the muxer is chosen from the real extension."""
    return output.with_name(f".{output.stem}.livebg-partial{output.suffix}")


def _plan(output: Path, alpha: bool, options: EncoderOptions, width: int, height: int) -> _Plan:
    suffix = output.suffix.lower()
    if suffix not in _VIDEO_SUFFIXES:
        raise UsageError(
            f"output {output} has an unknown extension {suffix or '(none)'}; "
            f"use .mp4, .mkv, .mov, .webm or a folder ending in / for PNG frames"
        )
    if alpha and suffix not in (".mov", ".webm"):
        raise UsageError(f"transparent output cannot be stored in {suffix} files; use {ALPHA_FORMATS}")
    if suffix == ".webm":
        codec = options.codec or "libvpx-vp9"
        pix = options.pixel_format or ("yuva420p" if alpha else "yuv420p")
        crf = options.crf if options.crf is not None else 18
        opts = {"crf": str(crf), "b": "0", "row-mt": "1", "deadline": "good", "cpu-used": "4"}
        return _Plan(codec, pix, opts)
    if alpha:  # .mov
        codec = options.codec or "prores_ks"
        return _Plan(codec, options.pixel_format or "yuva444p10le", {"profile": "4"})
    codec = options.codec or "libx264"
    # 4:2:0 needs even sizes; an odd-sized input keeps its exact size in 4:4:4.
    default_pix = "yuv420p" if width % 2 == 0 and height % 2 == 0 else "yuv444p"
    crf = options.crf if options.crf is not None else 17
    opts = {"crf": str(crf), "preset": options.preset} if codec in ("libx264", "libx265") else {}
    return _Plan(codec, options.pixel_format or default_pix, opts)


class VideoFileSink(FinishOnExit):
    """An encoded video file written safely; use it as a context manager.

    ``write(image, time=..., pts=...)`` takes ``uint8`` RGB ``(H, W, 3)`` (RGBA ``(H, W, 4)`` when
    ``alpha``); ``pts`` is in ``time_base`` units (file-to-file keeps the input's exact timestamps),
    ``time`` in seconds (live recording). ``mux(packet)`` copies a packet of one of ``audio_streams``
    without re-encoding. Leaving the ``with`` block normally finishes the file and moves it into place;
    an exception (or ``abort()``) removes the temporary file.
    """

    def __init__(
        self,
        path: Path,
        *,
        width: int,
        height: int,
        rate: Fraction,
        alpha: bool = False,
        overwrite: bool = False,
        protect: Sequence[Path | str] = (),
        time_base: Fraction | None = None,
        options: EncoderOptions | None = None,
        audio_streams: Sequence[av.audio.AudioStream] = (),
    ) -> None:
        self.path = Path(path)
        self.alpha = alpha
        check_output_path(self.path, overwrite=overwrite, protect=protect)
        plan = _plan(self.path, alpha, options or EncoderOptions(), width, height)
        self._check_audio(audio_streams)
        self._tmp = partial_path(self.path)
        self.time_base = time_base or Fraction(1, 90000)
        self._last_pts: int | None = None
        self._finished = False
        self.frames_written = 0
        try:
            self._container = av.open(str(self._tmp), mode="w")
            stream = self._container.add_stream(plan.codec, rate=rate, options=plan.options)
        except (av.error.FFmpegError, ValueError) as exc:
            self._remove_tmp()
            raise UsageError(f"cannot encode {self.path} with {plan.codec}: {exc}") from None
        stream.width = width
        stream.height = height
        stream.pix_fmt = plan.pixel_format
        stream.time_base = self.time_base
        stream.codec_context.time_base = self.time_base
        stream.thread_type = "AUTO"
        self._video = stream
        self._audio = {s.index: self._container.add_stream_from_template(s) for s in audio_streams}
        self._format = "rgba" if alpha else "rgb24"
        log.debug("encoding %s with %s %s %s", self.path, plan.codec, plan.pixel_format, plan.options)

    def _check_audio(self, audio_streams: Sequence[av.audio.AudioStream]) -> None:
        if not audio_streams:
            return
        with av.open(os.devnull, mode="w", format=_muxer_name(self.path)) as probe:
            supported = probe.supported_codecs
        for s in audio_streams:
            if s.codec_context.name not in supported:
                raise UsageError(
                    f"the input's {s.codec_context.name} audio cannot be copied into a {self.path.suffix} "
                    "file; use .mkv or .mov (or .mp4 for AAC audio), or pass --no-audio"
                )

    def write(self, image: np.ndarray, *, time: float | None = None, pts: int | None = None) -> None:
        if pts is None:
            pts = round((time or 0.0) / self.time_base)
        if self._last_pts is not None and pts <= self._last_pts:
            pts = self._last_pts + 1  # timestamps must increase; live clocks can repeat
        self._last_pts = pts
        frame = av.VideoFrame.from_ndarray(image, format=self._format)
        frame.pts = pts
        frame.time_base = self.time_base
        for packet in self._video.encode(frame):
            self._container.mux(packet)
        self.frames_written += 1

    def mux(self, packet: av.Packet) -> None:
        """Copy an input audio packet into the matching output stream."""
        packet.stream = self._audio[packet.stream.index]
        self._container.mux(packet)

    def close(self) -> None:
        """Flush the encoder, finish the container and move the file into place (once)."""
        if self._finished:
            return
        self._finished = True
        try:
            for packet in self._video.encode(None):
                self._container.mux(packet)
            self._container.close()
        except BaseException:
            self._remove_tmp()
            raise
        os.replace(self._tmp, self.path)

    def abort(self) -> None:
        """Drop the unfinished file; the output path is left as it was."""
        if self._finished:
            return
        self._finished = True
        with contextlib.suppress(Exception):
            self._container.close()
        self._remove_tmp()

    def _remove_tmp(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._tmp.unlink()


def _muxer_name(path: Path) -> str:
    return {".mkv": "matroska", ".m4v": "mp4", ".webm": "webm", ".mov": "mov", ".avi": "avi"}.get(
        path.suffix.lower(), "mp4"
    )


class PngSequenceSink(FinishOnExit):
    """Numbered PNG files (``frame_000000.png``...) in a folder, RGBA when ``alpha``; written into a
    hidden sibling folder that replaces the output folder only when complete. Same interface as
    :class:`VideoFileSink` (audio is not kept: a PNG sequence has no audio)."""

    def __init__(
        self, path: Path, *, alpha: bool = False, overwrite: bool = False, protect: Sequence[Path | str] = ()
    ) -> None:
        self.path = Path(str(path).rstrip("/" + os.sep))
        self.alpha = alpha
        check_output_path(self.path, overwrite=overwrite, protect=protect)
        self._tmp = self.path.with_name(f".{self.path.name}.livebg-partial")
        shutil.rmtree(self._tmp, ignore_errors=True)
        self._tmp.mkdir()
        self._finished = False
        self.frames_written = 0

    def write(self, image: np.ndarray, *, time: float | None = None, pts: int | None = None) -> None:
        code = cv2.COLOR_RGBA2BGRA if image.shape[2] == 4 else cv2.COLOR_RGB2BGR
        bgr = cv2.cvtColor(image, code)
        name = self._tmp / f"frame_{self.frames_written:06d}.png"
        if not cv2.imwrite(str(name), bgr):
            raise OutputError(f"could not write {name}; check free disk space and permissions")
        self.frames_written += 1

    def mux(self, packet: av.Packet) -> None:
        """Audio has no place in a PNG sequence; packets are dropped."""

    def close(self) -> None:
        if self._finished:
            return
        self._finished = True
        if self.path.exists():
            old = self.path.with_name(f".{self.path.name}.livebg-old")
            os.replace(self.path, old)
            os.replace(self._tmp, self.path)
            shutil.rmtree(old, ignore_errors=True) if old.is_dir() else old.unlink()
        else:
            os.replace(self._tmp, self.path)

    def abort(self) -> None:
        if not self._finished:
            self._finished = True
            shutil.rmtree(self._tmp, ignore_errors=True)
