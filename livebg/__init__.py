"""livebg: replace the background behind people in video and pictures, live (webcam, virtual camera,
window) or from files, from the command line or from Python.

    import livebg
    rgba = livebg.remove("portrait.jpg")                 # uint8 (H, W, 4) RGBA
    rgb = livebg.replace("portrait.jpg", "office")       # uint8 (H, W, 3) RGB
    livebg.process("talk.mp4", "talk_office.mp4", background="office")
    matter = livebg.Matter()                             # a model loaded once
    stream = matter.stream()                             # your own frame loop: stream.composite(rgb, "blur")

Importing the package prints nothing, picks no device, starts no thread and imports no torch: the API
loads on first use (see :mod:`livebg.api`).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# OpenCV must be loaded before PyAV: both wheels bundle a libxcb-shape of the same file name, and with
# PyAV's copy loaded first OpenCV's Qt window hangs forever (PyAV issue #978).
import cv2  # noqa: F401

from livebg.errors import LivebgError

if TYPE_CHECKING:
    from livebg.api import FrameMatte, Matter, Stream, process, remove, replace
    from livebg.sources.image_file import read_image
    from livebg.transcode import Result

__version__ = "0.1.0"
__all__ = [
    "FrameMatte",
    "LivebgError",
    "Matter",
    "Result",
    "Stream",
    "process",
    "read_image",
    "remove",
    "replace",
]

_LAZY = {
    "FrameMatte": "livebg.api",
    "Matter": "livebg.api",
    "Stream": "livebg.api",
    "process": "livebg.api",
    "remove": "livebg.api",
    "replace": "livebg.api",
    "Result": "livebg.transcode",
    "read_image": "livebg.sources.image_file",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'livebg' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
