"""What every background shares: the :class:`Background` protocol, the accepted forms, the named
colours and where the bundled backgrounds are."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Protocol, runtime_checkable

from torch import Tensor

BUNDLED_DIR: Path = Path(__file__).resolve().parents[2] / "backgrounds"
"""The repository's ``backgrounds/`` folder (next to the package); ``LIVEBG_BACKGROUNDS_DIR`` overrides it."""

BUNDLED_ENV = "LIVEBG_BACKGROUNDS_DIR"

COLOURS: dict[str, tuple[int, int, int]] = {
    "green": (0, 177, 64),  # chroma-key green
    "blue": (0, 71, 187),  # chroma-key blue
    "black": (0, 0, 0),
    "white": (255, 255, 255),
    "gray": (128, 128, 128),
    "grey": (128, 128, 128),
    "red": (200, 30, 30),
    "magenta": (255, 0, 255),
}
"""Named colours accepted by ``--background``, as RGB 0–255."""

BLUR_DEFAULT_STRENGTH = 50
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff")
VIDEO_SUFFIXES = (".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".gif", ".mpg", ".mpeg", ".ts")




@runtime_checkable
class Background(Protocol):
    """A picture to put behind the person, one per stream.

    ``name``: a short label for a HUD (``"blur:40"``, ``"office"``, ``"#00b140"``). ``needs_matte``:
    False only for ``none`` (the model is skipped). ``transparent``: True only for ``transparent``
    (the composite has four channels, RGBA). ``render(src, alpha, time)`` returns the background for
    this frame as float ``(B, 3, H, W)`` RGB in [0, 1] on ``src``'s device and dtype, or ``None`` for
    ``transparent``/``none``; ``src`` is the frame, ``alpha`` its ``(B, 1, H, W)`` matte, ``time`` the
    output timeline in seconds. The returned tensor may be a cached or expanded view: read it, never
    write into it. ``close()`` releases decoders and caches; it is idempotent, and a closed background
    still renders (it re-opens what it needs).
    """

    name: str
    needs_matte: bool
    transparent: bool

    def render(self, src: Tensor, alpha: Tensor, time: float) -> Tensor | None: ...

    def close(self) -> None: ...


# ---------------------------------------------------------------------------------------------------
# Parsing


INSTALLED_DIR: Path = Path(sys.prefix) / "share" / "livebg" / "backgrounds"
"""Where a regular (non-editable) install puts them (``data-files`` in pyproject.toml)."""


def bundled_dir() -> Path:
    """Where the bundled backgrounds are: ``$LIVEBG_BACKGROUNDS_DIR`` if set, else the checkout's
    :data:`BUNDLED_DIR`, else the installed copy in :data:`INSTALLED_DIR`."""
    override = os.environ.get(BUNDLED_ENV)
    if override:
        return Path(override)
    return BUNDLED_DIR if BUNDLED_DIR.is_dir() else INSTALLED_DIR


def bundled_backgrounds() -> list[str]:
    """Names (file stems) of the bundled background images and videos, sorted."""
    folder = bundled_dir()
    if not folder.is_dir():
        return []
    suffixes = IMAGE_SUFFIXES + VIDEO_SUFFIXES
    return sorted(p.stem for p in folder.iterdir() if p.is_file() and p.suffix.lower() in suffixes)


def bundled_path(name: str) -> Path | None:
    folder = bundled_dir()
    if not folder.is_dir():
        return None
    suffixes = IMAGE_SUFFIXES + VIDEO_SUFFIXES
    for path in sorted(folder.iterdir()):
        if path.is_file() and path.stem.lower() == name.lower() and path.suffix.lower() in suffixes:
            return path
    return None


def accepted_forms() -> str:
    """One sentence listing what ``--background`` accepts, with the bundled names."""
    bundled = ", ".join(bundled_backgrounds()) or "none installed"
    return (
        "an image or video path, a colour (" + ", ".join(COLOURS) + ", #rrggbb or r,g,b), "
        f"blur or blur:1-100, transparent, none, or a bundled background ({bundled})"
    )
