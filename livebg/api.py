"""The public Python API: background removal and replacement for stills, clips and your own frame loop.

Pictures are ``uint8`` RGB arrays ``(H, W, 3)`` (OpenCV users convert from BGR first); results are new
arrays. A :class:`Matter` loads a model once and serves any number of calls and streams; the
module-level :func:`remove`, :func:`replace` and :func:`process` make one for a single call.

    >>> import livebg
    >>> rgba = livebg.remove("portrait.jpg")                       # (H, W, 4) uint8, alpha = the person
    >>> rgb = livebg.replace("portrait.jpg", "office")             # a bundled background, a path or a colour
    >>> livebg.process("talk.mp4", "talk_blur.mp4", background="blur:40")

Every function here drives the same :class:`~livebg.step.FrameStep` as ``livebg video`` and
``livebg webcam``, and raises the same :class:`~livebg.errors.LivebgError` messages.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from livebg.backgrounds import Background, ImageBackground, SolidColour, Transparent, parse_background
from livebg.batch.inputs import is_batch
from livebg.compositing import Compositor
from livebg.config import ModelConfig
from livebg.errors import UsageError
from livebg.frames import Frame
from livebg.matting.factory import create_session
from livebg.matting.session import MattingSession
from livebg.sources.image_file import as_rgb, read_image
from livebg.sources.span import Span
from livebg.step import FrameStep
from livebg.tensors import to_uint8
from livebg.transcode import Progress, Result, VideoJob, process_video

if TYPE_CHECKING:
    from livebg.batch.runner import BatchResult

STILL_PASSES = 4
"""How many times a still picture is fed to a recurrent model (RVM) before its matte is taken: RVM's
first frame is its worst, and the matte settles as the recurrent state fills. Measured on the shared
portraits against their reference alphas (``benchmarks/still_passes.py``)."""

ImageInput = str | Path | np.ndarray | Any
"""A path, a ``uint8`` ``(H, W, 3)`` RGB (or ``(H, W, 4)`` RGBA, or ``(H, W)`` grey) array, or a PIL image."""
BackgroundInput = str | Path | np.ndarray | tuple[int, int, int]
"""A ``--background`` spec (``"office"``, ``"blur:40"``, ``"#00b140"``, a file path), an RGB picture
``uint8 (H, W, 3)`` (cover-fitted to the frame), or an RGB colour ``(r, g, b)`` in 0–255."""


@dataclass(frozen=True)
class FrameMatte:
    """The matte of one frame as arrays on the host.

    ``alpha``: ``float32 (H, W)`` in [0, 1], 1 where the person is. ``foreground``: ``uint8 (H, W, 3)``
    RGB, the person's colours (RVM's prediction with the old background's spill removed; the frame
    itself for models that predict none).
    """

    alpha: np.ndarray
    foreground: np.ndarray

    def alpha_uint8(self) -> np.ndarray:
        """``alpha`` as ``uint8 (H, W)`` in 0–255, rounded."""
        return np.clip(self.alpha * 255 + 0.5, 0, 255).astype(np.uint8)

    def rgba(self) -> np.ndarray:
        """The person cut out: ``uint8 (H, W, 4)`` RGBA, the foreground with the matte as alpha."""
        return np.dstack([self.foreground, self.alpha_uint8()])


class Stream:
    """One stream of consecutive frames (a camera, a clip) through a :class:`Matter`'s model, with its
    own recurrent state. Not for several threads at once; make one stream per thread or camera.

        stream = matter.stream()
        for rgb in frames:
            picture = stream.composite(rgb, "office")
    """

    def __init__(self, session: MattingSession) -> None:
        self._session = session
        self._index = 0
        self._background: tuple[object, Background] | None = None

    def _frame(self, image: np.ndarray) -> Frame:
        frame = Frame(as_rgb(image), self._index, 0.0)
        self._index += 1
        return frame

    def __call__(self, frame: np.ndarray) -> FrameMatte:
        """The matte of ``frame`` (``uint8 (H, W, 3)`` RGB), the next frame of this stream."""
        item = FrameStep(self._session, Compositor(Transparent())).matte([self._frame(frame)])[0]
        if item.matte is None:
            raise RuntimeError("the model returned no matte")  # internal: Transparent always needs one
        alpha = item.matte.alpha[0, 0].float().cpu().numpy()
        fgr = item.matte.foreground
        foreground = item.frame.rgb if fgr is None else to_uint8(fgr)
        return FrameMatte(alpha, foreground)

    def composite(self, frame: np.ndarray, background: BackgroundInput = "green") -> np.ndarray:
        """``frame`` (``uint8 (H, W, 3)`` RGB), the next frame of this stream, with its background
        replaced: ``uint8 (H, W, 3)`` RGB. A background given as a spec or path is opened once and
        kept while the same value is passed again."""
        step = FrameStep(self._session, Compositor(self._open_background(background)))
        return step(self._frame(frame))

    def reset(self) -> None:
        """Forget the frames seen so far (the next frame starts a new scene)."""
        self._session.reset()

    def close(self) -> None:
        """Release the background kept by :meth:`composite`; idempotent."""
        if self._background is not None:
            self._background[1].close()
            self._background = None

    def __enter__(self) -> Stream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _open_background(self, background: BackgroundInput) -> Background:
        key = background if isinstance(background, str | Path | tuple) else id(background)
        if self._background is not None and self._background[0] == key:
            return self._background[1]
        opened = open_background(background)
        self.close()
        self._background = (key, opened)
        return opened


class Matter:
    """A matting model loaded once, for many calls and streams.

    ``model``: ``rvm-mobilenetv3`` (default), ``rvm-resnet50``, or a torchvision segmentation model
    (``fcn-resnet50``, ``deeplabv3-mobilenetv3``, ``lraspp-mobilenetv3``). ``weights``: a local
    checkpoint instead of the cached official one (downloaded on first use unless ``offline``).
    ``device``: ``auto`` (CUDA, then MPS, then CPU), ``cpu``, ``cuda``, ``cuda:N``, ``mps``.
    ``backend``: ``auto``, ``torch``, ``onnxruntime``, ``openvino``. ``precision``: ``auto``, ``fp32``,
    ``fp16``, ``bf16``. ``downsample_ratio``: the scale at which the network sees the frame, in (0, 1]
    (``None``: longer side near 512 px). ``threads``: CPU threads for inference (``None``: every
    core). The rest are the segmentation models' options (:class:`~livebg.config.ModelConfig`).
    Raises :class:`~livebg.errors.LivebgError` subclasses for a bad option, missing weights or an
    unavailable device.
    """

    def __init__(
        self,
        model: str = "rvm-mobilenetv3",
        *,
        weights: str | Path | None = None,
        device: str = "auto",
        backend: str = "auto",
        precision: str = "auto",
        downsample_ratio: float | None = None,
        refiner: str | None = None,
        offline: bool = False,
        keep_classes: Sequence[str] = ("person",),
        smoothing: bool = True,
        refine_edges: bool = True,
        threads: int | None = None,
    ) -> None:
        self.config = ModelConfig.create(
            model,
            weights=weights,
            device=device,
            backend=backend,
            precision=precision,
            downsample_ratio=downsample_ratio,
            refiner=refiner,
            offline=offline,
            keep_classes=keep_classes,
            smoothing=smoothing,
            refine_edges=refine_edges,
            threads=threads,
        )
        self._session = create_session(self.config)

    @property
    def description(self) -> str:
        """The model, device and runtime, e.g. ``rvm-mobilenetv3 on cpu with openvino``."""
        session = self._session
        return f"{session.name} on {session.device} with {session.backend}"

    def stream(self) -> Stream:
        """A new stream (camera, clip) with its own recurrent state, sharing this loaded model."""
        return Stream(self._session.fork())

    def matte(self, image: ImageInput, *, passes: int | None = None) -> FrameMatte:
        """The matte of a still picture. A recurrent model sees it ``passes`` times (default
        :data:`STILL_PASSES`) so that its state settles; other models once."""
        stream = self.stream()
        rgb = read_image(image)
        for _ in range(self._passes(passes) - 1):
            stream(rgb)
        return stream(rgb)

    def remove(self, image: ImageInput, *, passes: int | None = None) -> np.ndarray:
        """The person of a still cut out: ``uint8 (H, W, 4)`` RGBA (alpha 0 where the background was)."""
        return self._still(image, Transparent(), passes)

    def replace(
        self, image: ImageInput, background: BackgroundInput, *, passes: int | None = None
    ) -> np.ndarray:
        """The still with its background replaced: ``uint8 (H, W, 3)`` RGB."""
        opened = open_background(background)
        if opened.transparent:
            opened.close()
            raise UsageError("replace() makes an RGB picture; for a transparent cut-out use remove()")
        return self._still(image, opened, passes)

    def process(
        self,
        input: str | Path,
        output: str | Path,
        *,
        background: str = "green",
        output_type: str = "composite",
        overwrite: bool = False,
        audio: bool = True,
        side_streams: bool = True,
        codec: str | None = None,
        crf: int | None = None,
        preset: str = "medium",
        pix_fmt: str | None = None,
        batch: int = 1,
        allow_truncated: bool = False,
        start: float | None = None,
        end: float | None = None,
        duration: float | None = None,
        frames: int | None = None,
        span: Span | None = None,
        alpha_output: str | Path | None = None,
        foreground_output: str | Path | None = None,
        progress: Progress | None = None,
    ) -> Result:
        """Exactly what ``livebg video INPUT -o OUTPUT`` does, with this model: the output keeps the
        input's frames, timestamps and audio (and, unless ``side_streams`` is false, its subtitle and
        data streams and timecode where the container holds them), and appears only when complete.
        ``progress(done, total)`` is called after each frame with the frames written and the total
        (``None`` when unknown).

        ``start``, ``end``, ``duration`` (seconds) and ``frames`` cut the clip as ffmpeg's ``-ss``,
        ``-to``, ``-t`` and ``-frames:v`` do, exactly to the frame (``span``: the same as a
        :class:`~livebg.sources.span.Span`). ``alpha_output`` and ``foreground_output`` also write the
        matte and the person's colours from the same pass."""
        job = VideoJob.create(
            input,
            output,
            model=self.config,
            background=background,
            output_type=output_type,
            overwrite=overwrite,
            audio=audio,
            side_streams=side_streams,
            codec=codec,
            crf=crf,
            preset=preset,
            pix_fmt=pix_fmt,
            batch=batch,
            allow_truncated=allow_truncated,
            still_passes=still_passes(self.config.name),
            start=start,
            end=end,
            duration=duration,
            frames=frames,
            span=span,
            alpha_output=alpha_output,
            foreground_output=foreground_output,
        )
        return process_video(job, session=self._session.fork(), progress=progress)

    def _passes(self, passes: int | None) -> int:
        if passes is None:
            return still_passes(self.config.name)
        if passes < 1:
            raise UsageError(f"passes={passes}: give 1 or more")
        return passes

    def _still(self, image: ImageInput, background: Background, passes: int | None) -> np.ndarray:
        rgb = read_image(image)
        step = FrameStep(self._session.fork(), Compositor(background))
        try:
            return step.render(step.matte_still(Frame(rgb, 0, 0.0), self._passes(passes)))
        finally:
            background.close()


# ---------------------------------------------------------------------------------------------------
# One call, one model


_MODEL_OPTIONS = frozenset({f.name for f in fields(ModelConfig)} - {"name"} | {"model"})


def split_options(options: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``options`` as (:class:`Matter`'s keywords, the rest)."""
    model = {k: v for k, v in options.items() if k in _MODEL_OPTIONS}
    return model, {k: v for k, v in options.items() if k not in _MODEL_OPTIONS}


def remove(image: ImageInput, **options: Any) -> np.ndarray:
    """``Matter(**options).remove(image)``: the person of a still cut out, ``uint8 (H, W, 4)`` RGBA.
    ``options``: :class:`Matter`'s keywords and ``passes``."""
    model, rest = split_options(options)
    return Matter(**model).remove(image, **rest)


def replace(image: ImageInput, background: BackgroundInput, **options: Any) -> np.ndarray:
    """``Matter(**options).replace(image, background)``: ``uint8 (H, W, 3)`` RGB."""
    model, rest = split_options(options)
    return Matter(**model).replace(image, background, **rest)


def process(
    input: str | Path | Sequence[str | Path],
    output: str | Path,
    *,
    progress: Progress | None = None,
    **options: Any,
) -> Result | BatchResult:
    """What ``livebg video INPUT -o OUTPUT`` does, for one clip or image: takes :class:`Matter`'s
    keywords and :meth:`Matter.process`'s. The model is loaded only after the input and output have
    been checked, and not at all with ``background="none"``.

    Several inputs (a list, a folder, a glob, an ``"@list.txt"`` file) make a batch into the folder
    ``output``: see :func:`livebg.batch.job.process_batch` for its further keywords; it returns a
    :class:`~livebg.batch.runner.BatchResult`."""
    if is_batch(input):
        from livebg.batch.job import process_batch

        return process_batch(input, output, **options)
    model, rest = split_options(options)
    config = ModelConfig.create(**model)
    job = VideoJob.create(input, output, model=config, still_passes=still_passes(config.name), **rest)
    return process_video(job, progress=progress)


def still_passes(model: str) -> int:
    """How many times a still is shown to ``model``: :data:`STILL_PASSES` for a recurrent model."""
    return STILL_PASSES if model.startswith("rvm-") else 1


# ---------------------------------------------------------------------------------------------------
# Backgrounds


def open_background(background: BackgroundInput) -> Background:
    """The :class:`Background` for a spec, path, RGB picture or ``(r, g, b)`` colour."""
    if isinstance(background, np.ndarray):
        return ImageBackground(as_rgb(background))
    if isinstance(background, tuple):
        if len(background) != 3 or not all(isinstance(c, int) and 0 <= c <= 255 for c in background):
            raise UsageError(
                f"colour {background!r} is not (r, g, b) with whole numbers 0-255; e.g. (0, 177, 64)"
            )
        return SolidColour((background[0], background[1], background[2]))
    return parse_background(str(background))
