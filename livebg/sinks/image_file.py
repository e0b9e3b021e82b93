"""Writing a single still image (PNG, JPEG, WebP), written to a temporary name and moved into place."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from pathlib import Path

import av
import cv2
import numpy as np

from livebg.errors import OutputError, UsageError
from livebg.sinks.video_file import FinishOnExit, check_output_path, partial_path

_ALPHA_SUFFIXES = {".png", ".webp", ".tif", ".tiff"}


class ImageFileSink(FinishOnExit):
    """One picture; a second ``write`` is an error (use a video or a PNG folder for clips)."""

    def __init__(
        self, path: Path, *, alpha: bool = False, overwrite: bool = False, protect: Sequence[Path | str] = ()
    ) -> None:
        self.path = Path(path)
        self.alpha = alpha
        check_output_path(self.path, overwrite=overwrite, protect=protect)
        if alpha and self.path.suffix.lower() not in _ALPHA_SUFFIXES:
            raise UsageError(
                f"transparent output cannot be stored in {self.path.suffix} images; use .png or .webp"
            )
        self._tmp = partial_path(self.path)
        self._finished = False
        self.frames_written = 0

    def write(self, image: np.ndarray, *, time: float | None = None, pts: int | None = None) -> None:
        if self.frames_written:
            raise UsageError(
                f"output {self.path} is a single image but the input has several frames; "
                "use a video file or a folder ending in / for PNG frames"
            )
        code = cv2.COLOR_RGBA2BGRA if image.shape[2] == 4 else cv2.COLOR_RGB2BGR
        if not cv2.imwrite(str(self._tmp), cv2.cvtColor(image, code)):
            raise OutputError(f"could not write {self.path}; check free disk space and permissions")
        self.frames_written += 1

    def mux(self, packet: av.Packet) -> None:
        """A still image has no audio; packets are dropped."""

    def close(self) -> None:
        if not self._finished:
            self._finished = True
            os.replace(self._tmp, self.path)

    def abort(self) -> None:
        if not self._finished:
            self._finished = True
            with contextlib.suppress(FileNotFoundError):
                self._tmp.unlink()
