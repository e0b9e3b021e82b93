"""Which way up a picture is shown: a video's display matrix (phones store upright clips sideways and
say how to turn them), the ``rotate`` tag older tools wrote, a still's EXIF orientation. :class:`Upright`
turns a decoded picture into the one a player or photo viewer shows."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import av
import cv2
import numpy as np
from av.sidedata.sidedata import Type as SideDataType

log = logging.getLogger(__name__)

_TURNS = {1: cv2.ROTATE_90_CLOCKWISE, 2: cv2.ROTATE_180, 3: cv2.ROTATE_90_COUNTERCLOCKWISE}


@dataclass(frozen=True)
class Upright:
    """How a decoded picture becomes the picture a player shows: mirrored left-right first when
    ``mirror``, then turned ``turns`` quarter turns clockwise. Together these express all eight EXIF
    orientations."""

    turns: int = 0
    mirror: bool = False

    def apply(self, rgb: np.ndarray) -> np.ndarray:
        """``uint8 (H, W, C)`` as stored to the same as shown (``(W, H, C)`` after a quarter turn)."""
        if self.mirror:
            rgb = cv2.flip(rgb, 1)
        if self.turns:
            rgb = cv2.rotate(rgb, _TURNS[self.turns])
        return rgb

    def size(self, width: int, height: int) -> tuple[int, int]:
        """``(width, height)`` as shown, for a picture stored ``width`` x ``height``."""
        return (height, width) if self.turns % 2 else (width, height)


# EXIF orientation tag values (TIFF 6.0, tag 0x0112) as mirror-then-turn.
EXIF_ORIENTATIONS = {
    1: Upright(),
    2: Upright(0, mirror=True),
    3: Upright(2),
    4: Upright(2, mirror=True),
    5: Upright(3, mirror=True),
    6: Upright(1),
    7: Upright(1, mirror=True),
    8: Upright(3),
}


def orientation(frame: av.VideoFrame, stream: av.video.stream.VideoStream, source: str) -> Upright:
    """How ``frame`` (and the frames after it) must be turned to show as a player shows them.

    A still's EXIF orientation tag decides for a still (read with Pillow: FFmpeg before 8 ignores it, and
    PyAV cannot hand over the matrix FFmpeg 8 makes of it). For video, the display matrix FFmpeg attaches
    to decoded frames decides, its flips read as ffplay reads them; a stream without one may still carry
    the ``rotate`` tag older tools wrote (clockwise degrees).
    """
    if _is_still(stream):
        exif = _exif_orientation(source)
        if exif is not None:
            return exif
    rotation = frame.rotation  # counter-clockwise degrees of the display matrix, 0 without one
    if rotation % 90:
        log.warning("%s asks to be turned %d degrees; only quarter turns are applied", source, rotation)
        return Upright()
    turns = (-rotation // 90) % 4  # what a player turns clockwise
    # PyAV keeps a frame and its side data in a reference cycle, which only the garbage collector frees:
    # read them from a 2x2 copy (side data is copied with it), not from the decoded frame, which would
    # otherwise keep the decoder and its threads alive after the input is closed.
    props = frame.reformat(width=2, height=2)
    try:
        matrix = props.side_data.get(SideDataType.DISPLAYMATRIX)
    except ValueError:  # side data of a kind PyAV does not know hides the matrix's flips
        return Upright(turns)
    if matrix is None:
        tag = {key.lower(): value for key, value in stream.metadata.items()}.get("rotate", "0")
        try:
            degrees = int(float(tag))
        except ValueError:
            degrees = 0
        return Upright((degrees // 90) % 4) if degrees % 90 == 0 else Upright()
    m = np.frombuffer(bytes(matrix), dtype=np.int32)
    # As ffplay applies it: a quarter turn with a flip is a (anti-)transposition, told by m[3]'s sign;
    # otherwise m[0] < 0 mirrors left-right and m[4] < 0 upside down.
    if turns == 1:
        return Upright(3, mirror=True) if m[3] > 0 else Upright(1)
    if turns == 3:
        return Upright(1, mirror=True) if m[3] < 0 else Upright(3)
    return Upright(2 if m[4] < 0 else 0, mirror=bool((m[0] < 0) != (m[4] < 0)))


def _is_still(stream: av.video.stream.VideoStream) -> bool:
    """Whether FFmpeg reads the input as a picture file (its image demuxers)."""
    name = stream.container.format.name
    return name == "image2" or name.endswith("_pipe")


def _exif_orientation(source: str) -> Upright | None:
    """The EXIF orientation of a still image file, or None when it has none or cannot be read."""
    if not os.path.isfile(source):
        return None
    try:
        from PIL import Image  # a dependency of torchvision; imported only for stills

        with Image.open(source) as image:
            value = image.getexif().get(0x0112)
    except (ImportError, OSError, ValueError, SyntaxError):
        return None
    return EXIF_ORIENTATIONS.get(value) if isinstance(value, int) else None
