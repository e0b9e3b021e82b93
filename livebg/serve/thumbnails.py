"""Small JPEG previews of the bundled backgrounds for the page, rendered once and kept in memory."""

from __future__ import annotations

import threading

import cv2
import torch

from livebg.backgrounds import bundled_backgrounds, parse_background
from livebg.serve.errors import NotFound
from livebg.tensors import to_uint8

SIZE = (144, 256)  # (height, width): 16:9, sharp on a high-density screen at 128 x 72 CSS pixels


class Thumbnails:
    """``names``: the bundled backgrounds; ``jpeg(name)``: the preview's bytes, :class:`NotFound` for a
    name that is not one of them (a name is only ever looked up, never used as a path)."""

    def __init__(self) -> None:
        self.names = bundled_backgrounds()
        self._cache: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def jpeg(self, name: str) -> bytes:
        if name not in self.names:
            raise NotFound(f"there is no bundled background {name[:40]!r}; see GET /api/backgrounds")
        with self._lock:
            if name not in self._cache:
                self._cache[name] = _render(name)
            return self._cache[name]


def _render(name: str) -> bytes:
    """The background as it shows behind a 16:9 frame (cover-fitted; a video's first frame)."""
    background = parse_background(name)
    try:
        frame = torch.zeros(1, 3, *SIZE)
        picture = background.render(frame, frame[:, :1], 0.0)
    finally:
        background.close()
    if picture is None:  # only transparent/none render nothing; bundled ones are pictures or clips
        raise NotFound(f"the bundled background {name!r} has no picture")
    rgb = to_uint8(picture)
    ok, data = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 85])
    if not ok:
        raise NotFound(f"the bundled background {name!r} could not be previewed")
    return data.tobytes()
