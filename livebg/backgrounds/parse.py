"""``--background`` text to a :class:`~livebg.backgrounds.base.Background`."""

from __future__ import annotations

import os
from pathlib import Path

from livebg.backgrounds.base import (
    BLUR_DEFAULT_STRENGTH,
    COLOURS,
    IMAGE_SUFFIXES,
    VIDEO_SUFFIXES,
    Background,
    accepted_forms,
    bundled_path,
)
from livebg.backgrounds.blur import Blur
from livebg.backgrounds.image import ImageBackground
from livebg.backgrounds.kinds import PassThrough, SolidColour, Transparent
from livebg.backgrounds.video import VideoBackground
from livebg.errors import BackgroundError


def parse_background(spec: str) -> Background:
    """The background a ``--background`` value names; raises :class:`BackgroundError` listing the
    accepted forms when it names nothing usable, and naming the path when a file is missing or unreadable.
    """
    text = spec.strip()
    key = text.lower()
    if not text:
        raise BackgroundError(f"--background is empty; give {accepted_forms()}")
    if key == "none":
        return PassThrough()
    if key == "transparent":
        return Transparent()
    if key == "blur" or key.startswith("blur:"):
        return Blur(_parse_strength(text))
    colour = parse_colour(text)
    if colour is not None:
        return SolidColour(colour, name=key if key in COLOURS else None)
    bundled = bundled_path(text)
    if bundled is not None:
        return _open_file(bundled, name=bundled.stem)
    path = Path(text).expanduser()
    if path.is_file():
        return _open_file(path, name=path.stem)
    if path.exists():
        raise BackgroundError(f"background {text!r} is not a file; give {accepted_forms()}")
    if path.suffix or os.sep in text or "/" in text:
        raise BackgroundError(
            f"background file {path} does not exist; check the path, or give {accepted_forms()}"
        )
    raise BackgroundError(f"unknown background {text!r}; give {accepted_forms()}")


def _parse_strength(text: str) -> int:
    _, _, value = text.partition(":")
    if not value:
        return BLUR_DEFAULT_STRENGTH
    try:
        strength = int(value)
    except ValueError:
        strength = -1
    if not 1 <= strength <= 100:
        raise BackgroundError(f"blur strength {value!r} is not a whole number from 1 to 100; e.g. blur:40")
    return strength


def parse_colour(text: str) -> tuple[int, int, int] | None:
    """RGB 0–255 for a colour name, ``#rrggbb`` or ``r,g,b``; ``None`` when ``text`` is not written as a
    colour at all; :class:`BackgroundError` when it is but the value is out of range or malformed."""
    key = text.strip().lower()
    if key in COLOURS:
        return COLOURS[key]
    if key.startswith("#"):
        digits = key[1:]
        if len(digits) == 6 and all(c in "0123456789abcdef" for c in digits):
            return (int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16))
        raise BackgroundError(f"colour {text!r} is not #rrggbb with six hex digits; e.g. #00b140")
    if "," in key and not Path(text).expanduser().exists():
        parts = [p.strip() for p in key.split(",")]
        if len(parts) == 3 and all(p.isdigit() and int(p) <= 255 for p in parts):
            r, g, b = (int(p) for p in parts)
            return (r, g, b)
        raise BackgroundError(f"colour {text!r} is not r,g,b with three whole numbers 0-255; e.g. 0,177,64")
    return None


def _open_file(path: Path, name: str) -> Background:
    suffix = path.suffix.lower()
    if suffix in VIDEO_SUFFIXES:
        return VideoBackground(path, name=name)
    if suffix in IMAGE_SUFFIXES:
        return ImageBackground.open(path, name=name)
    # Unknown suffix: whatever decodes, as a still first.
    try:
        return ImageBackground.open(path, name=name)
    except BackgroundError:
        return VideoBackground(path, name=name)
