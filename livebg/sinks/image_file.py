"""Writing a single still image (PNG, JPEG, WebP, ...), safely (rules: :mod:`livebg.sinks.safe_write`)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import av
import cv2
import numpy as np

from livebg.errors import OutputError, UsageError
from livebg.sinks.base import SinkBase
from livebg.sinks.safe_write import Partial, check_output, output_error

_ALPHA_SUFFIXES = {".png", ".webp", ".tif", ".tiff"}


def encode_image(image: np.ndarray, suffix: str) -> bytes:
    """``uint8`` RGB ``(H, W, 3)`` or RGBA ``(H, W, 4)`` as the bytes of an image file of type ``suffix``."""
    code = cv2.COLOR_RGBA2BGRA if image.shape[2] == 4 else cv2.COLOR_RGB2BGR
    ok, data = cv2.imencode(suffix, cv2.cvtColor(image, code))
    if not ok:
        raise OutputError(f"could not encode a {image.shape[1]}x{image.shape[0]} picture as {suffix}")
    return data.tobytes()


class ImageFileSink(SinkBase):
    """One picture; a second ``write`` is an error (use a video or a PNG folder for clips)."""

    def __init__(
        self, path: Path, *, alpha: bool = False, overwrite: bool = False, protect: Sequence[Path | str] = ()
    ) -> None:
        self.path = Path(path)
        self.alpha = alpha
        self.overwrite = overwrite
        check_output(self.path, overwrite=overwrite, protect=protect)
        if alpha and self.path.suffix.lower() not in _ALPHA_SUFFIXES:
            raise UsageError(
                f"transparent output cannot be stored in {self.path.suffix} images; use .png or .webp"
            )
        self._partial = Partial(self.path, protect=protect)
        self.frames_written = 0

    def write(self, image: np.ndarray, *, time: float | None = None, pts: int | None = None) -> None:
        if self.frames_written:
            raise UsageError(
                f"output {self.path} is a single image but the input has several frames; "
                "use a video file or a folder ending in / for PNG frames"
            )
        data = encode_image(image, self.path.suffix)
        try:
            self._partial.path.write_bytes(data)
        except OSError as exc:
            raise output_error(exc, self.path) from None
        self.frames_written += 1

    def mux(self, packet: av.Packet) -> None:
        """A still image has no audio; packets are dropped."""

    def _finish(self) -> None:
        if not self.frames_written:
            raise OutputError(f"no picture was given for {self.path}, so none was written")
        self._partial.publish(overwrite=self.overwrite)

    def _close(self) -> None:
        if not self.finished:
            self._partial.discard()
