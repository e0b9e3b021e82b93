"""Frozen configuration objects, built by the CLI (or by a program using livebg) and passed down."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from livebg.matting.registry import DEFAULT_MODEL

# What the command line offers beside the models (whose names, runtimes and precisions are in
# livebg.matting.registry), here rather than beside the code that runs them so that building the parser
# (and `livebg --help`) imports no torch.
REFINERS = ("deep_guided_filter", "fast_guided_filter")
OUTPUT_TYPES = ("composite", "alpha", "foreground")
VIDEO_FORMATS = ("mp4", "mov", "mkv", "webm")  # a batch's output clips (livebg.batch.inputs)
IMAGE_FORMATS = ("png", "jpg", "webp")  # a batch's output stills


def cpu_cores() -> int:
    """The cores this process may run on (its affinity mask where the OS tells it)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class CaptureSettings:
    """What to capture. ``camera``: an index (``"0"``), a device path (``/dev/video2``), a video file or a
    stream URL. ``width``/``height``/``fps`` are requests (``None``: the device's default); a file is
    scaled to the requested size but always plays at its own frame rate; ``loop`` restarts a file."""

    camera: str = "0"
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    loop: bool = False


@dataclass(frozen=True)
class ModelConfig:
    """Which matting model to run, where, and how.

    ``name``: a model of :mod:`livebg.matting.registry` (``livebg models`` lists them). ``weights``: a
    local checkpoint to use instead of the cached/downloaded one. ``refiner``: ``None`` detects it from
    the checkpoint (RVM only). ``downsample_ratio``: ``None`` is automatic (longer side near 512 px).
    ``backend``: ``auto``, ``torch``, ``onnxruntime`` or ``openvino``. ``precision``: ``auto`` (fp16 on
    CUDA, fp32 elsewhere), ``fp32``, ``fp16``, or ``bf16`` (OpenVINO's decoder); which combinations a
    model offers is checked by :func:`livebg.matting.backend.resolve`. ``threads``: the CPU threads
    inference (and PyTorch's other work in the process) may use, fixed when the session is created
    (``None``: every core, :func:`cpu_cores`); live mode's ``--cpu-budget`` sets it. ``smoothing``,
    ``refine_edges`` and ``keep_classes`` apply to the segmentation models.
    """

    name: str = DEFAULT_MODEL
    weights: Path | None = None
    device: str = "auto"
    refiner: str | None = None
    downsample_ratio: float | None = None
    backend: str = "auto"
    precision: str = "auto"
    smoothing: bool = True
    refine_edges: bool = True
    keep_classes: tuple[str, ...] = ("person",)
    offline: bool = False
    threads: int | None = None

    @classmethod
    def create(
        cls,
        model: str = DEFAULT_MODEL,
        *,
        weights: str | Path | None = None,
        keep_classes: Sequence[str] = ("person",),
        **options: Any,
    ) -> ModelConfig:
        """A config from the keywords of :class:`livebg.Matter` (``model`` is :attr:`name`)."""
        return cls(
            name=model,
            weights=None if weights is None else Path(weights),
            keep_classes=tuple(keep_classes),
            **options,
        )
