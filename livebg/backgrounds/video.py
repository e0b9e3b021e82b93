"""A looping video as the background, at its own frame rate."""

from __future__ import annotations

import bisect
import logging
import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from livebg.backgrounds.image import cover_fit, to_device
from livebg.errors import BackgroundError, InputError
from livebg.sources.media import MediaInput, Picture

log = logging.getLogger(__name__)

_VIDEO_REMEDY = "give a picture (.jpg, .png) or a video (.mp4, .webm)"
# A looping video is kept decoded (uint8, at the output size, on the device) when it fits in this.
VIDEO_CACHE_BYTES = 256 * 2**20


class VideoBackground:
    """A looping video, cover-fitted to the frame. It plays at its own frame rate: for output time ``t``
    it shows the frame whose timestamp is the last one at or before ``t`` modulo the loop's length.

    Short loops are decoded once and kept as uint8 at the output size on the device (at most
    ``cache_bytes``); longer ones are decoded sequentially, re-opening the file at each loop.
    """

    needs_matte = True
    transparent = False

    def __init__(
        self, path: str | Path, name: str | None = None, cache_bytes: int = VIDEO_CACHE_BYTES
    ) -> None:
        self.path = Path(path)
        self.name = name or self.path.stem
        self.cache_bytes = cache_bytes
        with self._open() as media:
            self.rate = media.rate
            count = media.frame_count
            if not count and media.duration:
                count = math.ceil(media.duration * self.rate)
            self._frame_estimate = int(count or 0)
        self._key: tuple[int, int, torch.device, torch.dtype] | None = None
        self._frames: Tensor | None = None  # cached loop, uint8 (N, 3, H, W) on the device
        self._times: list[float] = []
        self.period: float | None = None  # loop length in seconds, known once the end was reached
        self._decoder: _Decoder | None = None  # sequential mode
        self._shown: tuple[int, Tensor] | None = None  # (frame index, float tensor) last returned

    def _open(self) -> MediaInput:
        try:
            return MediaInput(self.path, label="background video", remedy=_VIDEO_REMEDY, allow_truncated=True)
        except InputError as exc:  # the same sentence, as the error a background raises
            raise BackgroundError(str(exc)) from None

    @property
    def frame_index(self) -> int | None:
        """Index in the loop of the frame last rendered (for tests and HUDs)."""
        return self._shown[0] if self._shown else None

    def render(self, src: Tensor, alpha: Tensor, time: float) -> Tensor:
        height, width = src.shape[-2:]
        key = (height, width, src.device, src.dtype)
        if key != self._key:
            self.close()
            self._key = key
            if self._fits_cache(height, width):
                self._fill_cache(height, width, src.device)
        if self._frames is not None:
            index = self._index_at(time)
            if self._shown is None or self._shown[0] != index:
                frame = self._frames[index : index + 1].to(src.dtype, memory_format=torch.contiguous_format)
                self._shown = (index, frame.div_(255))
        else:
            index, rgb = self._sequential(time)
            if self._shown is None or self._shown[0] != index:
                self._shown = (index, to_device(cover_fit(rgb, height, width), src.device, src.dtype))
        return self._shown[1].expand(src.shape[0], -1, -1, -1)

    def _fits_cache(self, height: int, width: int) -> bool:
        return 0 < self._frame_estimate * height * width * 3 <= self.cache_bytes

    def _fill_cache(self, height: int, width: int, device: torch.device) -> None:
        frames: list[np.ndarray] = []
        budget = self.cache_bytes // (height * width * 3)
        decoder = _Decoder(self)
        for seconds, rgb in decoder:
            if len(frames) >= budget:  # the header undercounted: fall back to sequential decoding
                log.debug("%s is longer than its header says; decoding it sequentially", self.path)
                decoder.close()
                self._times = []
                return
            self._times.append(seconds)
            frames.append(cover_fit(rgb, height, width))
        decoder.close()
        if not frames:
            raise BackgroundError(f"background video {self.path} has no decodable frames; give another file")
        self.period = decoder.end
        # Stacked on the host and moved in one copy: the device holds the loop once, as uint8.
        self._frames = torch.from_numpy(np.stack(frames)).to(device).permute(0, 3, 1, 2)

    def _index_at(self, time: float) -> int:
        local = time % self.period if self.period else 0.0
        return max(0, bisect.bisect_right(self._times, local + 1e-9) - 1)

    def _sequential(self, time: float) -> tuple[int, np.ndarray]:
        """The frame for ``time`` by decoding forward; re-opens the file to loop or to go back."""
        for _ in range(3):  # at most: wrap at the end, then restart from the top
            local = time if self.period is None else time % self.period
            if self._decoder is None or local < self._decoder.current_time:
                if self._decoder is not None:
                    self._decoder.close()
                self._decoder = _Decoder(self)
                self._decoder.advance()
            found = self._decoder.seek_forward(local)
            if found:
                return self._decoder.current_index, self._decoder.current_rgb
            self.period = self._decoder.end  # reached the end before `time`: the loop's length is known
            if self.period <= 0:
                break
        raise BackgroundError(f"background video {self.path} has no decodable frames; give another file")

    def close(self) -> None:
        if self._decoder is not None:
            self._decoder.close()
        self._decoder = None
        self._frames = None
        self._times = []
        self._shown = None
        self._key = None  # the loop's length (`period`) stays known


class _Decoder:
    """Sequential frames of a video with times in seconds from its start. Frames are converted to RGB
    only when used, so skipping ahead (a background faster than the output) costs decoding only."""

    def __init__(self, video: VideoBackground) -> None:
        self._media = video._open()
        self._pictures = self._media.pictures()
        self.current_index = -1
        self.current_time = -math.inf
        self._current: Picture | None = None
        self._pending: Picture | None = None
        self.end = 0.0  # time just after the last frame decoded so far

    @property
    def current_rgb(self) -> np.ndarray:
        if self._current is None:
            raise RuntimeError("no frame decoded yet")  # internal misuse, not a user error
        return self._current.rgb()

    def _next(self) -> Picture | None:
        """The next picture, or None at the end; extends ``end``."""
        picture = next(self._pictures, None)
        if picture is not None:
            self.end = max(self.end, picture.time + picture.duration)
        return picture

    def __iter__(self) -> Iterator[tuple[float, np.ndarray]]:
        while (picture := self._next()) is not None:
            yield picture.time, picture.rgb()

    def advance(self) -> bool:
        picture = self._pending or self._next()
        self._pending = None
        if picture is None:
            return False
        self.current_index += 1
        self.current_time, self._current = picture.time, picture
        return True

    def seek_forward(self, local: float) -> bool:
        """Advance to the last frame at or before ``local``; False if the video ends before ``local``."""
        while True:
            if self._pending is None:
                self._pending = self._next()
            if self._pending is None:
                return local < self.end and self.current_index >= 0
            if self._pending.time > local + 1e-9:
                return self.current_index >= 0
            self.advance()

    def close(self) -> None:
        self._pictures.close()
        self._media.close()
