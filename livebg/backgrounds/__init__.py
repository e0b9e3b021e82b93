"""What goes behind the person: the ``--background`` option and the pictures it names.

``parse_background(spec)`` turns one string into a :class:`Background`:

- ``none``: the frame passes through untouched and the model is skipped;
- ``transparent``: the output carries the matte as a fourth (alpha) channel;
- ``blur`` or ``blur:STRENGTH`` (1–100): the frame's own background, blurred behind the person;
- a colour: a name (``green``, ``blue``, ...), ``#rrggbb`` or ``r,g,b`` (0–255, RGB order);
- the name of a bundled background (a file stem in :data:`BUNDLED_DIR`, e.g. ``office``);
- the path of an image (scaled to cover the frame, centred, never stretched) or of a video (looped at its
  own frame rate, whatever the output's rate).

A background renders float ``(B, 3, H, W)`` RGB in [0, 1] on the frame's device and dtype, and caches
what it can per output size and device, so the per-frame work is a lookup (colours, images), a frame
pick (videos) or one reduced-resolution blur (``blur``).
"""


from livebg.backgrounds.base import (
    BLUR_DEFAULT_STRENGTH,
    BUNDLED_DIR,
    BUNDLED_ENV,
    COLOURS,
    IMAGE_SUFFIXES,
    INSTALLED_DIR,
    VIDEO_SUFFIXES,
    Background,
    accepted_forms,
    bundled_backgrounds,
    bundled_dir,
)
from livebg.backgrounds.blur import Blur
from livebg.backgrounds.image import ImageBackground, cover_fit
from livebg.backgrounds.kinds import PassThrough, SolidColour, Transparent
from livebg.backgrounds.parse import parse_background, parse_colour
from livebg.backgrounds.video import VIDEO_CACHE_BYTES, VideoBackground

__all__ = [
    "BLUR_DEFAULT_STRENGTH",
    "BUNDLED_DIR",
    "BUNDLED_ENV",
    "COLOURS",
    "IMAGE_SUFFIXES",
    "INSTALLED_DIR",
    "VIDEO_CACHE_BYTES",
    "VIDEO_SUFFIXES",
    "Background",
    "Blur",
    "ImageBackground",
    "PassThrough",
    "SolidColour",
    "Transparent",
    "VideoBackground",
    "accepted_forms",
    "bundled_backgrounds",
    "bundled_dir",
    "cover_fit",
    "parse_background",
    "parse_colour",
]
