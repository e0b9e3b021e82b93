"""The API's form fields, named like the CLI's options without their dashes, checked and turned into a
:class:`JobOptions`.

A client's ``background`` is never a path on the server: it may name a colour, ``blur``, ``transparent``,
``none`` or a bundled background; a picture or clip of the client's own comes as the file field
``background_file``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from livebg.backgrounds import COLOURS, bundled_backgrounds, parse_background, parse_colour
from livebg.config import OUTPUT_TYPES
from livebg.errors import BackgroundError
from livebg.serve.errors import BadForm

IMAGE_FORMATS = ("png", "webp", "jpg")
CLIP_FORMATS = ("mp4", "webm", "mov", "mkv")
ALPHA_FORMATS = ("png", "webp", "webm", "mov")
PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow")

JOB_FIELDS = ("background", "output_type", "format", "no_audio", "crf", "preset", "model")
"""Text fields of ``POST /api/jobs`` (besides the files ``file`` and ``background_file``)."""
REMOVE_FIELDS = ("background", "output_type", "model")
"""Text fields of ``POST /api/remove``."""
FILE_FIELDS = ("file", "background_file")

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off", "")


@dataclass(frozen=True)
class JobOptions:
    """What to make of an upload. ``background``: a checked ``--background`` spec (ignored when the
    client uploaded a background file); ``output_type``: composite, alpha or foreground; ``format``: the
    result's container (``None``: PNG for pictures, MP4, or MOV when transparent, for clips);
    ``audio``: keep the clip's sound; ``crf``/``preset``: H.264/VP9 quality and speed."""

    background: str = "green"
    output_type: str = "composite"
    format: str | None = None
    audio: bool = True
    crf: int | None = None
    preset: str = "medium"

    @property
    def transparent(self) -> bool:
        """True when the result carries alpha (a composite on ``transparent``)."""
        return self.output_type == "composite" and self.background.strip().lower() == "transparent"

    def suffix(self, kind: str) -> str:
        """The result's extension for an ``image`` or a ``clip``; :class:`BadForm` when ``format`` does
        not fit the kind or cannot carry the transparency asked for."""
        choices = IMAGE_FORMATS if kind == "image" else CLIP_FORMATS
        # MOV (ProRes 4444) carries any sound the clip has; WebM cannot take the AAC of most MP4s.
        default = "png" if kind == "image" else ("mov" if self.transparent else "mp4")
        chosen = self.format or default
        what = "picture" if kind == "image" else "clip"
        if chosen not in choices:
            raise BadForm(f"format {chosen!r} is not one for a {what}; use {', '.join(choices)}")
        if self.transparent and chosen not in ALPHA_FORMATS:
            fits = ", ".join(f for f in choices if f in ALPHA_FORMATS)
            raise BadForm(f"a transparent {what} cannot be stored as {chosen}; use {fits}")
        return "." + chosen


def parse_options(
    fields: Mapping[str, str],
    accepted: tuple[str, ...],
    *,
    model: str,
    default_background: str = "green",
    background_file: bool = False,
) -> JobOptions:
    """Check ``fields`` (text form fields) against ``accepted`` and the server's ``model``. Raises
    :class:`BadForm` or :class:`~livebg.errors.BackgroundError` with one sentence."""
    for name in fields:
        if name not in accepted:
            raise BadForm(
                f"unknown field {name!r}; this endpoint takes the fields "
                f"{', '.join([*FILE_FIELDS, *accepted])} "
                "(model settings other than model are chosen when the server starts)"
            )
    wanted_model = fields.get("model", "").strip()
    if wanted_model and wanted_model != model:
        raise BadForm(
            f"this server runs {model}, not {wanted_model!r}; leave model out, or start a server with "
            f"livebg serve --model {wanted_model}"
        )
    background = fields.get("background", "").strip()
    if background and background_file:
        raise BadForm("give either background or background_file, not both")
    background = background or default_background
    if not background_file:
        check_background(background)
    output_type = fields.get("output_type", "composite").strip() or "composite"
    if output_type not in OUTPUT_TYPES:
        raise BadForm(f"output_type {output_type!r} is not one of {', '.join(OUTPUT_TYPES)}")
    fmt = fields.get("format", "").strip().lower().lstrip(".") or None
    if fmt == "jpeg":
        fmt = "jpg"
    preset = fields.get("preset", "medium").strip() or "medium"
    if preset not in PRESETS:
        raise BadForm(f"preset {preset!r} is not one of {', '.join(PRESETS)}")
    return JobOptions(
        background=background,
        output_type=output_type,
        format=fmt,
        audio=not _flag(fields, "no_audio"),
        crf=_crf(fields.get("crf", "")),
        preset=preset,
    )


def check_background(spec: str) -> None:
    """Accept only backgrounds that name no file of the server's: a colour, blur, transparent, none, or a
    bundled background; :class:`BackgroundError` otherwise."""
    key = spec.strip().lower()
    bundled = bundled_backgrounds()
    if key in ("none", "transparent") or key == "blur" or key.startswith("blur:"):
        parse_background(spec).close()  # checks a blur's strength
        return
    if parse_colour(spec) is not None or key in (name.lower() for name in bundled):
        return
    raise BackgroundError(
        f"unknown background {spec!r}; give a colour ({', '.join(COLOURS)}, #rrggbb or r,g,b), blur or "
        f"blur:1-100, transparent, a bundled background ({', '.join(bundled) or 'none installed'}), "
        "or upload a picture or clip as background_file"
    )


def _flag(fields: Mapping[str, str], name: str) -> bool:
    value = fields.get(name, "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise BadForm(f"{name} {value!r} is not true or false")


def _crf(text: str) -> int | None:
    if not text.strip():
        return None
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= 63:
        raise BadForm(f"crf {text!r} is not a whole number from 0 to 63; lower is better, e.g. 18")
    return value
