"""Builds the session for a :class:`ModelConfig`; the only place that knows the model kinds."""

from __future__ import annotations

from pathlib import Path

import torch

from livebg.config import MODEL_NAMES, REFINERS, ModelConfig
from livebg.device import default_dtype, select_device
from livebg.errors import UsageError, WeightsError
from livebg.matting.backend import choose_backend, create_exported_session
from livebg.matting.rvm_session import RVMSession
from livebg.matting.segmentation import create_segmentation_session
from livebg.matting.session import MattingSession
from livebg.models.rvm import MattingNetwork, Refiner, detect_refiner, detect_variant
from livebg.models.segmentation import SEGMENTATION_MODELS
from livebg.weights import read_state_dict

RVM_VARIANTS = {"rvm-mobilenetv3": "mobilenetv3", "rvm-resnet50": "resnet50"}


def resolve_dtype(precision: str, device: torch.device) -> torch.dtype:
    if precision == "auto":
        return default_dtype(device)
    if precision == "fp16":
        return torch.float16
    if precision == "fp32":
        return torch.float32
    if precision == "bf16":
        raise UsageError(
            "--precision bf16 is offered by --backend openvino on the CPU; use fp32 or fp16 here"
        )
    raise UsageError(f"unknown precision {precision!r}; use auto, fp32 or fp16")


def load_rvm(name: str, checkpoint: Path, refiner: str | None = None) -> MattingNetwork:
    """Build the RVM network for ``name`` and load ``checkpoint`` into it with ``strict=True``.

    The refiner is detected from the checkpoint unless given; a checkpoint of another layout is a
    :class:`WeightsError` naming the file.
    """
    variant = RVM_VARIANTS[name]
    state_dict = read_state_dict(
        checkpoint,
        f"weights file {checkpoint}",
        f"pass a PyTorch checkpoint of {name} with --weights, or delete it to download it again",
    )
    found = detect_variant(state_dict)
    if found != variant:
        what = f"an RVM {found} checkpoint" if found else "not an RVM checkpoint"
        hint = f"use --model rvm-{found}" if found else f"pass an official {name} checkpoint with --weights"
        raise WeightsError(f"weights file {checkpoint} is {what}, but --model is {name}; {hint}")
    if refiner is not None and refiner not in REFINERS:
        raise UsageError(f"unknown refiner {refiner!r}; use one of {', '.join(REFINERS)}")
    chosen: Refiner = refiner or detect_refiner(state_dict)  # type: ignore[assignment]
    model = MattingNetwork(variant, chosen)
    if chosen == "deep_guided_filter" and not any(k.startswith("refiner.") for k in state_dict):
        raise WeightsError(
            f"weights file {checkpoint} has no deep guided filter weights; use --refiner fast_guided_filter"
        )
    # A fast-guided-filter model has no refiner parameters: a deep-filter checkpoint's refiner keys
    # are simply not used.
    if chosen == "fast_guided_filter":
        state_dict = {k: v for k, v in state_dict.items() if not k.startswith("refiner.")}
    try:
        model.load_state_dict(state_dict, strict=True)
    except RuntimeError as exc:
        raise WeightsError(
            f"weights file {checkpoint} does not match the {name} layout ({str(exc).splitlines()[0]}); "
            f"pass an official {name} checkpoint with --weights"
        ) from exc
    return model.eval()


def create_session(config: ModelConfig) -> MattingSession:
    """A fresh session for one stream, with the model loaded on the chosen device."""
    if config.name in SEGMENTATION_MODELS:
        device = select_device(config.device)
        return create_segmentation_session(config, device, resolve_dtype(config.precision, device))
    from livebg import weights

    device = select_device(config.device)
    if config.name in RVM_VARIANTS:
        backend = choose_backend(config.backend, device)  # before loading: a missing runtime fails fast
        checkpoint = weights.resolve_weights(config.name, config.weights, offline=config.offline)
        model = load_rvm(config.name, checkpoint, config.refiner)
        if backend != "torch":
            return create_exported_session(
                backend,
                model,
                downsample_ratio=config.downsample_ratio,
                precision=config.precision,
                name=config.name,
            )
        dtype = resolve_dtype(config.precision, device)
        return RVMSession(model, device, dtype, config.downsample_ratio, name=config.name)
    raise UsageError(f"unknown model {config.name!r}; use one of {', '.join(MODEL_NAMES)}")
