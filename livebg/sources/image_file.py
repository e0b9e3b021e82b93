"""Reading a still picture: a file (EXIF orientation applied, as photo viewers show it), an array or a
PIL image, as ``uint8 (H, W, 3)`` RGB. :class:`ImageFileSource` offers a still file to the file pipeline
as a one-frame clip, read exactly as :func:`read_image` reads it for the Python API."""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from livebg.errors import InputError, InputNotFoundError
from livebg.frames import Frame

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff"})


def is_image_path(path: Path | str) -> bool:
    """Whether ``path`` names a still picture (by its suffix)."""
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


def read_image(image: str | Path | np.ndarray | Any) -> np.ndarray:
    """A picture as ``uint8 (H, W, 3)`` RGB: a path (EXIF orientation applied), an array (RGB, RGBA or
    grey) or a PIL image. Raises :class:`InputError` naming what was received."""
    if isinstance(image, str | Path):
        path = Path(image)
        if not path.is_file():
            raise InputNotFoundError(f"image {path} does not exist; check the path")
        # IMREAD_COLOR applies the EXIF orientation, like a photo viewer.
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is None:
            raise InputError(f"cannot read {path} as an image; give a JPEG, PNG or WebP file")
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    if not isinstance(image, np.ndarray) and hasattr(image, "convert"):  # a PIL image
        image = np.asarray(image.convert("RGB"))
    return as_rgb(image)


def as_rgb(image: np.ndarray) -> np.ndarray:
    """``image`` as a contiguous ``uint8 (H, W, 3)`` RGB array (RGBA drops its alpha, grey is repeated)."""
    if not isinstance(image, np.ndarray):
        raise InputError(
            f"expected a picture as a numpy array, got {type(image).__name__}; "
            "pass a uint8 (H, W, 3) RGB array, a path or a PIL image"
        )
    if image.dtype != np.uint8:
        raise InputError(
            f"expected a uint8 picture, got {image.dtype}; "
            "convert it first, e.g. (x * 255).round().astype(np.uint8)"
        )
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    if image.ndim != 3 or image.shape[2] not in (3, 4) or min(image.shape[:2]) < 1:
        raise InputError(
            f"expected a picture of shape (H, W, 3), got {image.shape}; pass RGB (or RGBA or grey) pixels"
        )
    return np.ascontiguousarray(image[:, :, :3])


class ImageFileSource:
    """A still picture file as a one-frame source with the interface of
    :class:`~livebg.sources.video_file.VideoFileSource` (no audio, frame at time 0)."""

    audio: tuple[Any, ...] = ()
    others: tuple[Any, ...] = ()
    left_out: tuple[tuple[str, str], ...] = ()
    timecode = None
    rate = Fraction(1)
    time_base = Fraction(1)
    frame_count = 1

    def __init__(self, path: str | Path) -> None:
        self.source = str(path)
        self.rgb = read_image(Path(path))

    @property
    def height(self) -> int:
        return self.rgb.shape[0]

    @property
    def width(self) -> int:
        return self.rgb.shape[1]

    def __iter__(self) -> Iterator[Frame]:
        yield Frame(self.rgb, 0, 0.0, pts=0, time_base=self.time_base)

    def close(self) -> None:
        """Nothing to release; for symmetry with the video source."""

    def __enter__(self) -> ImageFileSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
