"""Frozen configuration objects, built by the CLI (or by a program using livebg) and passed down."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ModelConfig:
    """Which matting model to run, where, and how.

    ``weights``: a local checkpoint to use instead of the cached/downloaded one. ``refiner``: ``None``
    detects it from the checkpoint (RVM only). ``downsample_ratio``: ``None`` is automatic (longer side
    near 512 px). ``backend``: ``auto``, ``torch``, ``onnxruntime`` or ``openvino``. ``precision``:
    ``auto`` (fp16 on CUDA, fp32 elsewhere), ``fp32``, ``fp16``, or ``bf16`` (OpenVINO's decoder).
    ``smoothing``, ``refine_edges`` and ``keep_classes`` apply to the segmentation models.
    """

    name: str = "rvm-mobilenetv3"
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
