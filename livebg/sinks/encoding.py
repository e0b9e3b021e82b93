"""Video encoder settings (``--codec``, ``--crf``, ``--preset``, ``--pix-fmt``) and their checks.

:meth:`EncoderOptions.check` needs no model and no frame: the command line runs it before torch is
imported, and :class:`~livebg.sinks.video_file.VideoFileSink` runs it again when it is built, so a value
the encoder would refuse (or silently ignore) is reported at once, in one sentence.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import av
import av.codec

from livebg.errors import UsageError

VIDEO_SUFFIXES = (".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi")
ALPHA_FORMATS = ".mov (ProRes 4444), .webm (VP9 with alpha) or a PNG sequence folder (a path ending in /)"
X264_PRESETS = (
    "ultrafast",
    "superfast",
    "veryfast",
    "faster",
    "fast",
    "medium",
    "slow",
    "slower",
    "veryslow",
    "placebo",
)
"""The speed presets of libx264 and libx265 (the only encoders ``--preset`` applies to)."""

_MUXERS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska", ".webm": "webm", ".avi": "avi"}
# Encoders with a constant-quality (CRF) setting: its accepted range and livebg's default.
_CRF = {
    "libx264": (0, 51, 17),
    "libx265": (0, 51, 17),
    "libvpx-vp9": (0, 63, 18),
    "libvpx": (4, 63, 18),
    "libsvtav1": (0, 63, 30),
}
# Offered in messages, when this FFmpeg has them and the container takes them.
_WELL_KNOWN = ("libx264", "libx265", "libvpx-vp9", "libsvtav1", "prores_ks", "ffv1", "mpeg4")


def muxer_name(path: Path | str) -> str:
    """FFmpeg's name for the container of a video file with this suffix."""
    return _MUXERS.get(Path(path).suffix.lower(), "mp4")


@dataclass(frozen=True)
class EncoderPlan:
    """What a video file is encoded with: FFmpeg encoder name, pixel format and encoder options;
    ``notes``: settings that were given but do not apply to this encoder, for the user to be told."""

    codec: str
    pixel_format: str
    options: dict[str, str]
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class EncoderOptions:
    """Video encoder settings. ``None`` picks the default for the container: H.264 yuv420p CRF 17
    (visually lossless) for .mp4/.mkv/.mov/.avi, VP9 CRF 18 for .webm, ProRes 4444 for .mov with alpha.
    ``preset`` applies to libx264 and libx265 only. ``threads``: the encoder's threads (``None``:
    FFmpeg's choice, about one per core)."""

    codec: str | None = None
    crf: int | None = None
    preset: str = "medium"
    pixel_format: str | None = None
    threads: int | None = None

    def check(self, output: Path | str, *, alpha: bool = False) -> None:
        """Raise :class:`UsageError` (one sentence) when ``output`` cannot be encoded with these
        settings: an unknown video extension, transparency in a container without alpha, a codec that
        is not a video encoder or does not fit the container, a CRF out of the encoder's range, an
        unknown preset, a pixel format the encoder does not take. (A CRF for an encoder without one,
        such as ProRes, is not an error: the plan's ``notes`` say it is not used.)"""
        self.plan(output, alpha=alpha)

    def plan(self, output: Path | str, *, alpha: bool = False, size: tuple[int, int] = (2, 2)) -> EncoderPlan:
        """The encoder, pixel format and options for ``output`` with frames of ``size`` = (height,
        width) (odd sizes default to 4:4:4, which keeps them exact); raises like :meth:`check`."""
        output = Path(output)
        suffix = output.suffix.lower()
        if suffix not in VIDEO_SUFFIXES:
            raise UsageError(
                f"video output {output} has an unknown extension {suffix or '(none)'}; use one of "
                f"{', '.join(VIDEO_SUFFIXES)}"
            )
        if alpha and suffix not in (".mov", ".webm"):
            raise UsageError(f"transparent output cannot be stored in {suffix} files; use {ALPHA_FORMATS}")
        default = "libvpx-vp9" if suffix == ".webm" else "prores_ks" if alpha else "libx264"
        encoder = _video_encoder(self.codec or default, suffix)
        name = encoder.name
        options: dict[str, str] = {}
        if self.preset not in X264_PRESETS:
            raise UsageError(
                f"--preset {self.preset} is not a speed preset; give one of {', '.join(X264_PRESETS)} "
                "(slower is smaller at the same quality; default medium)"
            )
        if name in ("libx264", "libx265"):
            options["preset"] = self.preset
        notes = []
        if self.crf is not None and name not in _CRF:
            notes.append(f"{name} has no constant-quality setting: --crf {self.crf} is not used")
        if name in _CRF:
            low, high, crf = _CRF[name]
            if self.crf is not None and not low <= self.crf <= high:
                raise UsageError(
                    f"--crf {self.crf} is outside {name}'s range {low}-{high}; lower is better quality "
                    f"(default {crf})"
                )
            options["crf"] = str(crf if self.crf is None else self.crf)
        if name in ("libvpx-vp9", "libvpx"):
            options.update({"b": "0", "row-mt": "1", "deadline": "good", "cpu-used": "4"})
        if name == "prores_ks" and alpha:
            options["profile"] = "4"  # 4444: the profile that carries alpha
        return EncoderPlan(name, self._pixel_format(encoder, suffix, alpha, size), options, tuple(notes))

    def _pixel_format(self, encoder: av.codec.Codec, suffix: str, alpha: bool, size: tuple[int, int]) -> str:
        accepted = [f.name for f in encoder.video_formats or ()]
        if self.pixel_format is None:
            if suffix == ".webm":
                pix = "yuva420p" if alpha else "yuv420p"
            elif alpha:
                pix = "yuva444p10le"
            else:
                # 4:2:0 needs even sizes; an odd-sized input keeps its exact size in 4:4:4.
                pix = "yuv420p" if size[0] % 2 == 0 and size[1] % 2 == 0 else "yuv444p"
            if accepted and pix not in accepted:
                pix = accepted[0]  # an encoder chosen with --codec that takes none of the usual ones
        else:
            pix = self.pixel_format
            try:
                av.VideoFormat(pix)
            except ValueError:
                raise UsageError(
                    f"--pix-fmt {pix} is not a pixel format; {encoder.name} takes {', '.join(accepted)}"
                ) from None
            if accepted and pix not in accepted:
                hint = "; yuv444p keeps full colour resolution" if "yuv444p" in accepted else ""
                raise UsageError(
                    f"--pix-fmt {pix} is not accepted by {encoder.name}, which takes "
                    f"{', '.join(accepted)}{hint}"
                )
        if alpha and len(av.VideoFormat(pix).components) != 4:
            raise UsageError(
                f"pixel format {pix} has no alpha channel, so the output would not be transparent; leave "
                f"--pix-fmt out or give one with alpha (e.g. yuva420p for VP9, yuva444p10le for ProRes)"
            )
        return pix


def _video_encoder(name: str, suffix: str) -> av.codec.Codec:
    """The FFmpeg video encoder ``name`` (an encoder or a format name such as ``h264``) that the
    container of ``suffix`` can hold."""
    try:
        encoder = av.codec.Codec(name, "w")
    except ValueError:  # UnknownCodecError
        raise UsageError(
            f"--codec {name} is not an encoder this FFmpeg has; give a video encoder for {suffix} files: "
            f"{', '.join(usable_encoders(suffix))}"
        ) from None
    if encoder.type != "video":
        raise UsageError(
            f"--codec {name} is an {encoder.type} encoder, not a video one; give a video encoder for "
            f"{suffix} files: {', '.join(usable_encoders(suffix))}"
        )
    supported = _container_codecs(suffix)
    if encoder.name not in supported and name not in supported:
        raise UsageError(
            f"--codec {name} cannot be stored in {suffix} files; use another container (.mkv holds most) "
            f"or one of {', '.join(usable_encoders(suffix))}"
        )
    return encoder


def usable_encoders(suffix: str) -> list[str]:
    """The well-known video encoders this FFmpeg has that a ``suffix`` file can hold."""
    supported = _container_codecs(suffix)
    return [name for name in _WELL_KNOWN if name in av.codecs_available and name in supported]


def _container_codecs(suffix: str) -> set[str]:
    with av.open(os.devnull, mode="w", format=_MUXERS.get(suffix, "mp4")) as probe:
        return set(probe.supported_codecs)
