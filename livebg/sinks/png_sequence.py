"""Writing the result as numbered PNG files (``frame_000000.png``...) in a folder livebg creates, with
livebg's marker file inside; the folder is built under a hidden partial name and appears only when
complete (rules: :mod:`livebg.sinks.safe_write`)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import av
import numpy as np

from livebg.sinks.base import SinkBase
from livebg.sinks.image_file import encode_image
from livebg.sinks.safe_write import (
    DISK_FULL,
    Partial,
    check_output,
    disk_full_error,
    frame_name,
    output_error,
)


def is_png_sequence(path: Path | str) -> bool:
    """A path ending in a separator, an existing folder, or one without a suffix is a PNG sequence."""
    text = str(path)
    return text.endswith(("/", os.sep)) or os.path.isdir(text) or Path(text).suffix == ""


class PngSequenceSink(SinkBase):
    """Numbered PNG files in a new folder, RGBA when ``alpha``; an existing folder is replaced (with
    ``overwrite``) only when livebg wrote it and it holds nothing else. Same interface as
    :class:`~livebg.sinks.video_file.VideoFileSink` (audio is dropped: a PNG sequence has none)."""

    def __init__(
        self,
        path: Path,
        *,
        alpha: bool = False,
        overwrite: bool = False,
        protect: Sequence[Path | str] = (),
        expected_frames: int | None = None,
    ) -> None:
        self.path = Path(path)
        self.alpha = alpha
        self.overwrite = overwrite
        self.expected_frames = expected_frames
        check_output(self.path, overwrite=overwrite, protect=protect, folder=True)
        self._partial = Partial(self.path, folder=True, protect=protect)
        self._bytes = 0
        self.frames_written = 0

    def write(self, image: np.ndarray, *, time: float | None = None, pts: int | None = None) -> None:
        data = encode_image(image, ".png")
        try:
            with open(self._partial.path / frame_name(self.frames_written), "xb") as f:
                f.write(data)
        except OSError as exc:
            if exc.errno in DISK_FULL:
                written, frames = self._bytes, self.frames_written
                raise disk_full_error(self.path, written, frames, self.expected_frames) from None
            raise output_error(exc, self.path) from None
        self._bytes += len(data)
        self.frames_written += 1

    def mux(self, packet: av.Packet) -> None:
        """Audio has no place in a PNG sequence; packets are dropped."""

    def _finish(self) -> None:
        self._partial.publish(overwrite=self.overwrite)

    def _close(self) -> None:
        if not self.finished:
            self._partial.discard()
