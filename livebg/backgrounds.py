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

from __future__ import annotations

import bisect
import logging
import math
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol, runtime_checkable

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from livebg.errors import BackgroundError, InputError
from livebg.resize import upsample
from livebg.sources.media import MediaInput, Picture

log = logging.getLogger(__name__)

BUNDLED_DIR: Path = Path(__file__).resolve().parent.parent / "backgrounds"
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

# Blur radius at strength 100, as a fraction of the frame height (a Gaussian sigma of 36 px at 720p).
_BLUR_SIGMA_AT_100 = 0.05
# The blur runs at a resolution reduced by a whole factor so that its sigma is at most this many pixels.
_BLUR_SMALL_SIGMA = 1.5
_BLUR_MAX_REDUCTION = 16
# Weight floor: where the person covers the whole blur window the result is the blurred frame, not 0/0;
# far too little to tint the background around the person (1e-3 of the weight of a background pixel).
_BLUR_PERSON_WEIGHT = 1e-3
_VIDEO_REMEDY = "give a picture (.jpg, .png) or a video (.mp4, .webm)"
# A looping video is kept decoded (uint8, at the output size, on the device) when it fits in this.
VIDEO_CACHE_BYTES = 256 * 2**20


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


def _bundled_path(name: str) -> Path | None:
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


def parse_background(spec: str) -> Background:
    """The background a ``--background`` value names; raises :class:`BackgroundError` listing the
    accepted forms when it names nothing usable, and naming the path when a file is missing or unreadable.
    """
    text = spec.strip()
    key = text.lower()
    if not text:
        raise BackgroundError(f"--background is empty; give {accepted_forms()}")
    if key == "none":
        return PassThrough()
    if key == "transparent":
        return Transparent()
    if key == "blur" or key.startswith("blur:"):
        return Blur(_parse_strength(text))
    colour = parse_colour(text)
    if colour is not None:
        return SolidColour(colour, name=key if key in COLOURS else None)
    bundled = _bundled_path(text)
    if bundled is not None:
        return _open_file(bundled, name=bundled.stem)
    path = Path(text).expanduser()
    if path.is_file():
        return _open_file(path, name=path.stem)
    if path.exists():
        raise BackgroundError(f"background {text!r} is not a file; give {accepted_forms()}")
    if path.suffix or os.sep in text or "/" in text:
        raise BackgroundError(
            f"background file {path} does not exist; check the path, or give {accepted_forms()}"
        )
    raise BackgroundError(f"unknown background {text!r}; give {accepted_forms()}")


def _parse_strength(text: str) -> int:
    _, _, value = text.partition(":")
    if not value:
        return BLUR_DEFAULT_STRENGTH
    try:
        strength = int(value)
    except ValueError:
        strength = -1
    if not 1 <= strength <= 100:
        raise BackgroundError(f"blur strength {value!r} is not a whole number from 1 to 100; e.g. blur:40")
    return strength


def parse_colour(text: str) -> tuple[int, int, int] | None:
    """RGB 0–255 for a colour name, ``#rrggbb`` or ``r,g,b``; ``None`` when ``text`` is not written as a
    colour at all; :class:`BackgroundError` when it is but the value is out of range or malformed."""
    key = text.strip().lower()
    if key in COLOURS:
        return COLOURS[key]
    if key.startswith("#"):
        digits = key[1:]
        if len(digits) == 6 and all(c in "0123456789abcdef" for c in digits):
            return (int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16))
        raise BackgroundError(f"colour {text!r} is not #rrggbb with six hex digits; e.g. #00b140")
    if "," in key and not Path(text).expanduser().exists():
        parts = [p.strip() for p in key.split(",")]
        if len(parts) == 3 and all(p.isdigit() and int(p) <= 255 for p in parts):
            r, g, b = (int(p) for p in parts)
            return (r, g, b)
        raise BackgroundError(f"colour {text!r} is not r,g,b with three whole numbers 0-255; e.g. 0,177,64")
    return None


def _open_file(path: Path, name: str) -> Background:
    suffix = path.suffix.lower()
    if suffix in VIDEO_SUFFIXES:
        return VideoBackground(path, name=name)
    if suffix in IMAGE_SUFFIXES:
        return ImageBackground.open(path, name=name)
    # Unknown suffix: whatever decodes, as a still first.
    try:
        return ImageBackground.open(path, name=name)
    except BackgroundError:
        return VideoBackground(path, name=name)


# ---------------------------------------------------------------------------------------------------
# Kinds


class PassThrough:
    """``none``: no background, no model; the compositor returns the frame as it is."""

    name = "none"
    needs_matte = False
    transparent = False

    def render(self, src: Tensor, alpha: Tensor, time: float) -> Tensor | None:
        return None

    def close(self) -> None:
        pass


class Transparent:
    """``transparent``: the output is RGBA with the matte as alpha."""

    name = "transparent"
    needs_matte = True
    transparent = True

    def render(self, src: Tensor, alpha: Tensor, time: float) -> Tensor | None:
        return None

    def close(self) -> None:
        pass


class SolidColour:
    """One colour everywhere; ``rgb`` is 0–255 in RGB order."""

    needs_matte = True
    transparent = False

    def __init__(self, rgb: tuple[int, int, int], name: str | None = None) -> None:
        self.rgb = rgb
        self.name = name or "#{:02x}{:02x}{:02x}".format(*rgb)
        self._cache: dict[tuple[torch.device, torch.dtype], Tensor] = {}

    def render(self, src: Tensor, alpha: Tensor, time: float) -> Tensor:
        key = (src.device, src.dtype)
        pixel = self._cache.get(key)
        if pixel is None:
            pixel = torch.tensor(self.rgb, dtype=torch.float32).div(255).view(1, 3, 1, 1)
            pixel = pixel.to(src.device, src.dtype)
            self._cache[key] = pixel
        return pixel.expand(src.shape[0], 3, src.shape[2], src.shape[3])

    def close(self) -> None:
        self._cache.clear()


class Blur:
    """The frame's own background, blurred; the person's colours are kept out of the blur.

    ``strength`` 1–100 sets a Gaussian sigma of ``strength / 100 * 0.05`` of the frame height (36 px at
    720p for 100). Each pixel of the result is a blur-weighted average of the frame's *background*
    pixels only (weights ``(1 - alpha)**8``, plus a tiny floor), so the person does not glow into the
    blur. It runs at a reduced resolution where the sigma is about 1.5 px, and the weighted colours and
    the weights are scaled back up separately before the division.
    """

    needs_matte = True
    transparent = False

    def __init__(self, strength: int = BLUR_DEFAULT_STRENGTH) -> None:
        if not 1 <= strength <= 100:
            raise BackgroundError(f"blur strength {strength} is outside 1-100; e.g. blur:40")
        self.strength = strength

    @property
    def name(self) -> str:
        return f"blur:{self.strength}"

    def sigma(self, height: int) -> float:
        """The blur's Gaussian sigma in pixels for a frame ``height`` pixels high."""
        return self.strength / 100 * _BLUR_SIGMA_AT_100 * height

    def render(self, src: Tensor, alpha: Tensor, time: float) -> Tensor:
        batch, _, height, width = src.shape
        sigma = self.sigma(height)
        reduction = min(_BLUR_MAX_REDUCTION, math.ceil(sigma / _BLUR_SMALL_SIGMA))
        # Channels 0-2: the frame times the background weight; channel 3: the weight, (1 - alpha)**8 so
        # that half-transparent edge pixels, whose colour is partly the person's, count for little
        # (with a square, the person's colour at the edges still tints the blur by about 3/255).
        stack = src.new_empty((batch, 4, height, width))
        weight = stack[:, 3:]
        weight.copy_(alpha).neg_().add_(1).square_().square_().square_().add_(_BLUR_PERSON_WEIGHT)
        torch.mul(src, weight, out=stack[:, :3])
        if reduction > 1:
            small = (max(1, round(height / reduction)), max(1, round(width / reduction)))
            stack = F.interpolate(stack, size=small, mode="area")
        stack = self._gaussian(stack, sigma * stack.shape[-2] / height)
        if reduction > 1:
            # Scaled up before the division: dividing first would interpolate between background
            # pixels and the meaningless values inside the person, a halo one small pixel wide.
            stack = upsample(stack, (height, width))
        return stack[:, :3].div_(stack[:, 3:])

    @staticmethod
    def _gaussian(image: Tensor, sigma: float) -> Tensor:
        """Separable Gaussian blur as sums of shifted slices: on a CPU several times faster than a
        depthwise convolution, and the same few kernels on a GPU."""
        if sigma < 0.3:
            return image
        radius = max(1, math.ceil(3 * sigma))
        taps = [math.exp(-(x * x) / (2 * sigma * sigma)) for x in range(-radius, radius + 1)]
        total = sum(taps)
        taps = [t / total for t in taps]
        for dim in (-1, -2):
            size = image.shape[dim]
            # Reflect padding cannot reach past the image; replicate is a fine edge model for a blur too.
            mode = "reflect" if radius < size else "replicate"
            padding = (radius, radius, 0, 0) if dim == -1 else (0, 0, radius, radius)
            padded = F.pad(image, padding, mode=mode)
            image = padded.narrow(dim, 0, size) * taps[0]
            for shift in range(1, len(taps)):
                image.add_(padded.narrow(dim, shift, size), alpha=taps[shift])
        return image

    def close(self) -> None:
        pass


def cover_fit(rgb: np.ndarray, height: int, width: int) -> np.ndarray:
    """``rgb`` (H, W, C) scaled to cover ``height`` x ``width`` and centre-cropped: the aspect ratio is
    kept and nothing is stretched. Returns a new contiguous array of the same dtype."""
    src_h, src_w = rgb.shape[:2]
    # Crop the source to the target's aspect first, then resize once: exact output size, no stretch.
    if src_w * height > width * src_h:
        crop_w = max(1, round(src_h * width / height))
        x0 = (src_w - crop_w) // 2
        rgb = rgb[:, x0 : x0 + crop_w]
    else:
        crop_h = max(1, round(src_w * height / width))
        y0 = (src_h - crop_h) // 2
        rgb = rgb[y0 : y0 + crop_h]
    shrinking = rgb.shape[0] > height
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC
    if rgb.shape[:2] == (height, width):
        return np.ascontiguousarray(rgb)
    return cv2.resize(np.ascontiguousarray(rgb), (width, height), interpolation=interpolation)


def _to_device(rgb: np.ndarray, device: torch.device, dtype: torch.dtype) -> Tensor:
    """uint8 (H, W, 3) to float (1, 3, H, W) in [0, 1]; the uint8 bytes cross to the device."""
    return torch.from_numpy(rgb).to(device).permute(2, 0, 1).unsqueeze(0).to(dtype).div_(255).contiguous()


class ImageBackground:
    """A still picture, cover-fitted to the frame; one fitted copy is cached per size, device and dtype."""

    needs_matte = True
    transparent = False

    def __init__(self, rgb: np.ndarray, name: str = "picture") -> None:
        """``rgb``: ``uint8 (H, W, 3)`` RGB, not copied (keep it unchanged)."""
        self.rgb = rgb
        self.name = name
        self._cache: dict[tuple[int, int, torch.device, torch.dtype], Tensor] = {}

    @classmethod
    def open(cls, path: str | Path, name: str | None = None) -> ImageBackground:
        """The picture in the file at ``path``; :class:`BackgroundError` when it cannot be read."""
        path = Path(path)
        # cv2.imread returns None (no exception) for missing or undecodable files.
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is None:
            if not path.exists():
                raise BackgroundError(f"background image {path} does not exist; check the path")
            raise BackgroundError(
                f"cannot read {path} as an image; give a JPEG, PNG or WebP file, or {accepted_forms()}"
            )
        return cls(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), name or path.stem)

    def render(self, src: Tensor, alpha: Tensor, time: float) -> Tensor:
        height, width = src.shape[-2:]
        key = (height, width, src.device, src.dtype)
        fitted = self._cache.get(key)
        if fitted is None:
            self._cache.clear()  # one output size at a time: a size change drops the old copy
            fitted = _to_device(cover_fit(self.rgb, height, width), src.device, src.dtype)
            self._cache[key] = fitted
        return fitted.expand(src.shape[0], -1, -1, -1)

    def close(self) -> None:
        self._cache.clear()


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
                self._shown = (index, _to_device(cover_fit(rgb, height, width), src.device, src.dtype))
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
