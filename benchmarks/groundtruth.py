"""Material with known alpha, and the matting metrics, for ``quality.py`` and ``live_quality.py``.

**Clips.** ``greenscreen_man_face_512.mp4`` (a studio green screen, 25 fps, 78 frames; its black bar
below row 480 is cut off) is keyed to an alpha and a premultiplied, despilled foreground
(:func:`key_green`), scaled 1.5x and composited, bottom centre, over a moving 1280x720 background at
30 fps, the person's frames played forwards and backwards for as long as asked (:data:`CLIPS`: a
panning office lobby, a panning office with a city window, an animated synthwave loop). The composite
is made from the very alpha that is stored, rounded to 8 bits first, so each clip's alpha is exact
(the key only decides how natural the person looks). The clips are encoded nearly losslessly (H.264
CRF 10). **Stills:** the P3M portraits with their alphas (P3M-Net's predictions, a strong reference,
not hand-made truth).

Everything made goes to ``$LIVEBG_BENCH_CACHE`` (default ``~/.cache/livebg-bench``), never into the
repository; the test material is read from ``$LIVEBG_TEST_DATA`` (default ``../shared`` beside the
repository).

**Metrics** as in the RVM paper's evaluation, on alpha in [0, 1]: MAD = mean absolute difference x 1e3
(1 unit = 0.255/255), MSE x 1e3, Grad = the sum of squared differences of the Gaussian gradient
magnitudes (sigma 1.4, each alpha min-max normalised) / 1e3, dtSSD = the root mean square of the
difference between predicted and true frame-to-frame changes x 1e2 (flicker). MAD, MSE and Grad are
averaged over frames, dtSSD over consecutive pairs.
"""

from __future__ import annotations

import argparse
import functools
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import av
import cv2
import numpy as np

from livebg.backgrounds import parse_background
from livebg.compositing import Compositor
from livebg.config import ModelConfig
from livebg.frames import Frame
from livebg.matting.factory import create_session
from livebg.step import FrameStep, alpha_picture

HERE = Path(__file__).resolve().parent
SHARED = Path(os.environ.get("LIVEBG_TEST_DATA", HERE.parent.parent / "shared"))
CACHE = Path(os.environ.get("LIVEBG_BENCH_CACHE", Path.home() / ".cache" / "livebg-bench"))
VERSION = "groundtruth-v1"  # change when the making changes: old clips are then made anew

GREEN_SCREEN = "greenscreen_man_face_512.mp4"
SIZE = (720, 1280)  # (height, width) of the clips
FPS = 30
PERSON_SCALE = 1.5
SECONDS = 10.0  # the clips' default length
PAN_PERIOD = 20.0  # seconds for a panned background to cross and come back (the same whatever the length)
CLIPS: dict[str, tuple[str, str]] = {
    # name: (background file in the shared data, how it moves)
    "lobby_pan": ("bg_office_lobby_1080p.png", "pan"),
    "city_pan": ("bg_office_window_city.jpg", "pan"),
    "retrowave": ("bg_retrowave_animated.webm", "video"),
}
PORTRAITS = tuple(f"portrait_{i:02d}" for i in range(1, 7))


def data_path(name: str) -> Path:
    """A file of the shared test material; a one-line error when it is missing."""
    path = SHARED / "data" / name
    if not path.is_file():
        raise SystemExit(f"{path} is missing; set LIVEBG_TEST_DATA to the folder that holds data/")
    return path


# ---------------------------------------------------------------------------------------------------
# Keying


def _blur(image: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur; wide ones on a smaller copy (the same result to well under a level, much faster)."""
    factor = max(1, int(sigma // 4))
    if factor == 1:
        return cv2.GaussianBlur(image, (0, 0), sigma)
    h, w = image.shape[:2]
    small = cv2.resize(image, (max(1, w // factor), max(1, h // factor)), interpolation=cv2.INTER_AREA)
    return cv2.resize(cv2.GaussianBlur(small, (0, 0), sigma / factor), (w, h), interpolation=cv2.INTER_LINEAR)


def _fill(values: np.ndarray, known: np.ndarray, sigmas: Iterable[float]) -> np.ndarray:
    """``values`` where ``known``, spread smoothly elsewhere (normalised Gaussian convolution, each
    pixel from the smallest of ``sigmas`` that reaches it): a local estimate of a colour nearby."""
    out = np.zeros_like(values)
    have = np.zeros(known.shape, bool)
    weight = known.astype(np.float32)
    weighted = values * weight[..., None]
    for sigma in sigmas:
        den = np.maximum(_blur(weight, sigma), 1e-6)[..., None]
        new = ~have & (den[..., 0] > 0.02)
        out[new] = (_blur(weighted, sigma) / den)[new]
        have |= new
    return out


def key_green(rgb: np.ndarray, band: float = 8.0) -> tuple[np.ndarray, np.ndarray]:
    """Key a green-screen frame: ``uint8 (H, W, 3)`` RGB → alpha ``float32 (H, W)`` and the
    premultiplied, despilled foreground ``float32 (H, W, 3)`` RGB, both in [0, 1].

    Sure background: the screen's greenness ``G - (R + B) / 2`` above 0.22 (the screen has about
    0.26). Within ``band`` px of it the alpha is the larger of two estimates, each of which errs low
    where the other does not: the frame projected on the line between the local screen colour and the
    local colour of the person (exact for mixed pixels, luma-sharp; too low for strands lighter than
    their neighbours) and the greenness relative to the local screen's (blurred by 4:2:0 chroma into
    dark hair). Farther inside the person the alpha is 1: no holes in a face or a shirt. The foreground
    is the frame minus the screen's share, its green limited to the larger of red and blue (the
    screen's spill and its colour bleeding into dark hair; no skin or clothing here is greener than
    that), and to alpha (a valid premultiplied colour).
    """
    c = rgb.astype(np.float32) / 255
    green = c[..., 1] - (c[..., 0] + c[..., 2]) / 2
    opening = cv2.morphologyEx((green > 0.22).astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    screen = opening.astype(bool)
    distance = cv2.distanceTransform((~screen).astype(np.uint8), cv2.DIST_L2, 5)
    background = _fill(c, screen, (8, 32, 128))
    person = _fill(c, (green < 0.02) & (distance > 1.5), (2, 4, 8, 16, 64))
    line = person - background
    projected = ((c - background) * line).sum(-1) / np.maximum((line * line).sum(-1), 1e-4)
    screen_green = background[..., 1] - (background[..., 0] + background[..., 2]) / 2
    by_greenness = (screen_green - green) / np.maximum(screen_green, 1e-3)
    alpha = np.clip(np.maximum(projected, by_greenness), 0, 1)
    alpha[distance > band] = 1
    alpha[screen] = 0
    foreground = np.clip(c - (1 - alpha)[..., None] * background, 0, None)
    foreground[..., 1] = np.minimum(foreground[..., 1], foreground[..., [0, 2]].max(-1))
    foreground = np.minimum(foreground, alpha[..., None])
    return alpha, foreground


@functools.cache
def keyed_person() -> tuple[np.ndarray, np.ndarray]:
    """The green-screen clip keyed, scaled by :data:`PERSON_SCALE`: alpha ``uint8 (N, H, W)`` and
    premultiplied foreground ``uint8 (N, H, W, 3)`` RGB (never above the alpha), cached on disk."""
    path = CACHE / VERSION / "person.npz"
    if path.is_file():
        with np.load(path) as saved:
            return saved["alpha"], saved["foreground"]
    alphas, foregrounds = [], []
    with av.open(str(data_path(GREEN_SCREEN))) as container:
        for frame in container.decode(video=0):
            rgb = frame.to_ndarray(format="rgb24")[:480]  # below: a black bar
            alpha, foreground = key_green(rgb)
            h, w = alpha.shape
            size = (round(w * PERSON_SCALE), round(h * PERSON_SCALE))
            alpha8 = np.round(255 * cv2.resize(alpha, size, interpolation=cv2.INTER_LINEAR)).astype(np.uint8)
            fg = cv2.resize(foreground, size, interpolation=cv2.INTER_LINEAR)
            alphas.append(alpha8)
            foregrounds.append(np.minimum(np.round(255 * fg), alpha8[..., None]).astype(np.uint8))
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, alpha=np.stack(alphas), foreground=np.stack(foregrounds))
    return np.stack(alphas), np.stack(foregrounds)


# ---------------------------------------------------------------------------------------------------
# Clips and stills with known alpha


@dataclass(frozen=True)
class Clip:
    """A clip with known alpha: ``path`` (H.264, :data:`FPS`, :data:`SIZE`) of ``length`` frames."""

    name: str
    path: Path
    length: int
    fps: float = FPS

    def truth(self, k: int) -> np.ndarray:
        """The true alpha of frame ``k``, ``uint8 (H, W)``."""
        alphas = keyed_person()[0]
        alpha = np.zeros(SIZE, np.uint8)
        top, left = _placement(alphas.shape[1:])
        alpha[top:, left : left + alphas.shape[2]] = alphas[_person_frame(k, len(alphas))]
        return alpha

    def frames(self, count: int | None = None) -> Iterator[np.ndarray]:
        """The clip's first ``count`` (all) frames, ``uint8 (H, W, 3)`` RGB."""
        yield from read_video(self.path, count)


def _person_frame(k: int, n: int) -> int:
    """The green-screen frame shown in clip frame ``k``: forwards, then backwards, and so on."""
    i = k % (2 * n - 2)
    return i if i < n else 2 * n - 2 - i


def _placement(person: tuple[int, int]) -> tuple[int, int]:
    """Top and left of the person in a clip frame: bottom centre, the shoulders cut by the edge."""
    return SIZE[0] - person[0], (SIZE[1] - person[1]) // 2


def _background_frames(name: str, frames: int) -> Iterator[np.ndarray]:
    """``frames`` background pictures of :data:`SIZE` for clip ``name``: a still scaled to cover 1.25x
    the frame and panned across it and back in :data:`PAN_PERIOD`, or a video looped at its own rate."""
    file, motion = CLIPS[name]
    height, width = SIZE
    if motion == "video":
        with av.open(str(data_path(file))) as container:
            stream = container.streams.video[0]
            rate = float(stream.average_rate)
            loop = [
                f.to_ndarray(format="rgb24", width=width, height=height) for f in container.decode(stream)
            ]
        for k in range(frames):
            yield loop[int(k * rate / FPS) % len(loop)]
        return
    image = cv2.cvtColor(cv2.imread(str(data_path(file))), cv2.COLOR_BGR2RGB)
    scale = 1.25 * max(width / image.shape[1], height / image.shape[0])
    image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    spare_y, spare_x = image.shape[0] - height, image.shape[1] - width
    for k in range(frames):
        # To the far side and back (a triangle wave), sub-pixel by an affine warp: no jumps.
        phase = 1 - abs(1 - 2 * ((k / (PAN_PERIOD * FPS)) % 1))
        shift = np.float32([[1, 0, -phase * spare_x], [0, 1, -phase * spare_y * 0.3]])
        yield cv2.warpAffine(image, shift, (width, height), flags=cv2.INTER_LINEAR)


def make_clip(name: str, seconds: float) -> Clip:
    """Clip ``name`` of :data:`CLIPS`, ``seconds`` long, made once and cached (the file name says the
    length)."""
    length = round(seconds * FPS)
    clip = Clip(name, CACHE / VERSION / f"{name}_{length}.mp4", length)
    if clip.path.is_file():
        return clip
    alphas, foregrounds = keyed_person()
    height, width = SIZE
    top, left = _placement(alphas.shape[1:])
    partial = clip.path.with_suffix(".partial.mp4")
    with av.open(str(partial), "w") as container:
        stream = container.add_stream("libx264", rate=FPS, options={"crf": "10", "preset": "medium"})
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for k, background in enumerate(_background_frames(name, length)):
            i = _person_frame(k, len(alphas))
            a = clip.truth(k).astype(np.float32)[..., None] / 255
            fg = np.zeros((height, width, 3), np.float32)
            fg[top:, left : left + alphas.shape[2]] = foregrounds[i]
            picture = np.clip(np.round(fg + (1 - a) * background), 0, 255).astype(np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    partial.replace(clip.path)
    return clip


def ground_truth_clips(names: Iterable[str], seconds: float) -> list[Clip]:
    """The clips ``names`` (of :data:`CLIPS`), made if not cached yet."""
    unknown = [name for name in names if name not in CLIPS]
    if unknown:
        raise SystemExit(f"unknown clip {', '.join(unknown)}; choose from {', '.join(CLIPS)}")
    return [make_clip(name, seconds) for name in names]


@dataclass(frozen=True)
class Still:
    """A portrait with a reference alpha: ``rgb`` ``uint8 (H, W, 3)``, ``alpha`` ``uint8 (H, W)``."""

    name: str
    rgb: np.ndarray = field(repr=False)
    alpha: np.ndarray = field(repr=False)


def portraits() -> list[Still]:
    """The P3M portraits with P3M-Net's alphas."""
    stills = []
    for name in PORTRAITS:
        bgr = cv2.imread(str(data_path(f"{name}.jpg")))
        alpha = cv2.imread(str(data_path(f"{name}_p3mnet_alpha.png")), cv2.IMREAD_GRAYSCALE)
        stills.append(Still(name, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), alpha))
    return stills


def read_video(path: Path, count: int | None = None) -> Iterator[np.ndarray]:
    """The first ``count`` (all) frames of a video, ``uint8 (H, W, 3)`` RGB."""
    with av.open(str(path)) as container:
        for k, frame in enumerate(container.decode(video=0)):
            if count is not None and k >= count:
                return
            yield frame.to_ndarray(format="rgb24")


# ---------------------------------------------------------------------------------------------------
# Metrics


def _gradient_filters(sigma: float = 1.4) -> tuple[np.ndarray, np.ndarray]:
    """First-derivative-of-Gaussian kernels in x and y, unit L2 norm (as the matting benchmarks)."""
    half = int(np.ceil(sigma * np.sqrt(-2 * np.log(np.sqrt(2 * np.pi) * sigma * 1e-2))))
    x = np.arange(-half, half + 1, dtype=np.float64)
    gauss = np.exp(-(x**2) / (2 * sigma**2)) / (sigma * np.sqrt(2 * np.pi))
    kernel_x = np.outer(gauss, -x * gauss / sigma**2)  # rows: Gaussian; columns: its derivative
    kernel_x /= np.sqrt((kernel_x**2).sum())
    return kernel_x.astype(np.float32), kernel_x.T.astype(np.float32).copy()


_FILTERS = _gradient_filters()


def _gradient(alpha: np.ndarray) -> np.ndarray:
    lo, hi = float(alpha.min()), float(alpha.max())
    normed = (alpha - lo) / (hi - lo) if hi > lo else np.zeros_like(alpha)
    gx = cv2.filter2D(normed, -1, _FILTERS[0], borderType=cv2.BORDER_REPLICATE)
    gy = cv2.filter2D(normed, -1, _FILTERS[1], borderType=cv2.BORDER_REPLICATE)
    return np.sqrt(gx * gx + gy * gy)


def as_alpha(picture: np.ndarray) -> np.ndarray:
    """An alpha as ``float32 (H, W)`` in [0, 1] from ``uint8`` grey ``(H, W)`` or ``(H, W, 3)`` (the
    mean of the channels: a recorded matte's are equal up to video coding)."""
    grey = picture.mean(axis=-1) if picture.ndim == 3 else picture
    return grey.astype(np.float32) / 255


@dataclass
class Scores:
    """Metrics accumulated over a sequence (see the module docstring for units); :meth:`add` each
    predicted alpha with its truth in order, :meth:`break_sequence` where consecutive frames are not
    (a new clip or still)."""

    mad: list[float] = field(default_factory=list)
    mse: list[float] = field(default_factory=list)
    grad: list[float] = field(default_factory=list)
    dtssd: list[float] = field(default_factory=list)
    _previous: tuple[np.ndarray, np.ndarray] | None = None

    def add(self, pred: np.ndarray, true: np.ndarray, *, gradient: bool = True) -> None:
        """One frame: ``float32 (H, W)`` alphas in [0, 1]; ``gradient=False`` skips Grad (slow at
        720p: use it on a subset when time is short)."""
        diff = pred - true
        self.mad.append(float(np.abs(diff).mean()) * 1e3)
        self.mse.append(float((diff * diff).mean()) * 1e3)
        if gradient:
            d = _gradient(pred) - _gradient(true)
            self.grad.append(float((d * d).sum()) / 1e3)
        if self._previous is not None:
            change = diff - (self._previous[0] - self._previous[1])
            self.dtssd.append(float(np.sqrt((change * change).mean())) * 1e2)
        self._previous = (pred, true)

    def break_sequence(self) -> None:
        self._previous = None

    def extend(self, other: Scores) -> None:
        """Add the frames of ``other`` (another clip) to these."""
        for name in ("mad", "mse", "grad", "dtssd"):
            getattr(self, name).extend(getattr(other, name))
        self.break_sequence()

    def means(self) -> dict[str, float]:
        """Mean of each metric (NaN where nothing was measured)."""
        named = (("MAD", self.mad), ("MSE", self.mse), ("Grad", self.grad), ("dtSSD", self.dtssd))
        return {name: float(np.mean(values)) if values else float("nan") for name, values in named}


# ---------------------------------------------------------------------------------------------------
# Running livebg's frame step offline


def clip_alphas(step: FrameStep, clip: Clip, count: int | None = None) -> Iterator[np.ndarray]:
    """The mattes of ``clip``'s first ``count`` (all) frames through ``step`` (the state carried from
    the first frame, as ``livebg video`` runs), ``uint8 (H, W)``: what a user gets, before coding."""
    step.reset()
    for k, rgb in enumerate(clip.frames(count)):
        item = step.matte([Frame(rgb, index=k, time=k / clip.fps)], stream=clip.name, force=True)[0]
        yield alpha_picture(item)[..., 0]


def score_clip(
    step: FrameStep, clip: Clip, count: int | None = None, *, keep: bool = False
) -> tuple[Scores, list[np.ndarray]]:
    """Metrics of ``step``'s mattes of ``clip``'s first ``count`` (all) frames, and with ``keep`` the
    mattes themselves (``uint8 (H, W)``)."""
    scores, kept = Scores(), []
    for k, alpha in enumerate(clip_alphas(step, clip, count)):
        scores.add(as_alpha(alpha), as_alpha(clip.truth(k)))
        if keep:
            kept.append(alpha)
    return scores, kept


def score_still(step: FrameStep, still: Still) -> Scores:
    """Metrics of ``step``'s matte of ``still`` (one pass from a fresh state, as ``livebg video``)."""
    item = step.matte_still(Frame(still.rgb, index=0, time=0.0), passes=1)
    scores = Scores()
    scores.add(as_alpha(alpha_picture(item)[..., 0]), as_alpha(still.alpha))
    return scores


def alpha_step(model: ModelConfig) -> FrameStep:
    """A frame step with a session for ``model`` whose output is the matte."""
    return FrameStep(create_session(model), Compositor(parse_background("green"), output="alpha"))


def argument_parser(description: str | None) -> argparse.ArgumentParser:
    """The options every ground-truth benchmark takes: ``--weights`` and ``--clips``."""
    parser = argparse.ArgumentParser(
        description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--weights", type=Path, default=SHARED / "models" / "rvm_mobilenetv3_tfjs.pth")
    parser.add_argument("--clips", default=",".join(CLIPS), help=f"comma-separated of {', '.join(CLIPS)}")
    return parser


def format_table(header: list[str], rows: list[list[object]]) -> str:
    """A plain-text table: columns as wide as their widest cell, numbers right-aligned."""

    def cell(value: object) -> str:
        if isinstance(value, float):
            return "-" if np.isnan(value) else f"{value:.2f}"
        return str(value)

    cells = [header] + [[cell(v) for v in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    numeric = [all(isinstance(row[i], (int, float)) for row in rows) for i in range(len(header))]
    lines = []
    for r, row in enumerate(cells):
        parts = [c.rjust(widths[i]) if numeric[i] else c.ljust(widths[i]) for i, c in enumerate(row)]
        lines.append("  ".join(parts).rstrip())
        if r == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)
