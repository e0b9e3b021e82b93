"""Builds the session for a :class:`ModelConfig`: the registry says what kind of model the name is,
:func:`~livebg.matting.backend.resolve` how it runs, and this module loads it into the matching session."""

from __future__ import annotations

from pathlib import Path

import torch

from livebg import weights
from livebg.config import REFINERS, ModelConfig
from livebg.device import select_device
from livebg.errors import UsageError, WeightsError
from livebg.matting import registry
from livebg.matting.backend import Runtime, resolve
from livebg.matting.rvm_session import RVMSession
from livebg.matting.session import MattingSession
from livebg.models.rvm import MattingNetwork, Refiner, detect_refiner, detect_variant


def load_rvm(name: str, checkpoint: Path, refiner: str | None = None) -> MattingNetwork:
    """Build the RVM network for ``name`` and load ``checkpoint`` into it with ``strict=True``.

    The refiner is detected from the checkpoint unless given; a checkpoint of another layout is a
    :class:`WeightsError` naming the file.
    """
    variant = registry.get(name, kind="rvm").architecture
    state_dict = weights.read_state_dict(
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
    """A fresh session for one stream, with the model loaded on the chosen device (further streams of
    the same model: :meth:`MattingSession.fork`). ``config.threads`` also sets PyTorch's threads for
    the whole process (compositing runs in PyTorch whatever runs the network)."""
    spec = registry.get(config.name)
    device = select_device(config.device)
    runtime = resolve(config, device)  # before loading: a bad combination or a missing runtime fails fast
    if config.threads is not None:
        torch.set_num_threads(config.threads)
    if spec.kind == "segmentation":
        # Imported here: torchvision's models import torch._dynamo, seconds that RVM does not need.
        from livebg.matting.segmentation import create_segmentation_session

        return create_segmentation_session(config, device, runtime.dtype)
    checkpoint = weights.resolve_weights(config.name, config.weights, offline=config.offline)
    model = load_rvm(config.name, checkpoint, config.refiner)
    if runtime.backend == "torch":
        return RVMSession(model, device, runtime.dtype, config.downsample_ratio, name=config.name)
    return _exported_session(runtime, model, config)


def _exported_session(runtime: Runtime, model: MattingNetwork, config: ModelConfig) -> MattingSession:
    # Imported here: each imports its optional runtime package.
    if runtime.backend == "onnxruntime":
        from livebg.matting.exported.onnxruntime import OnnxSession

        return OnnxSession(model, config.downsample_ratio, config.name, threads=config.threads)
    from livebg.matting.exported.openvino import OpenVinoSession

    return OpenVinoSession(
        model, config.downsample_ratio, config.name, threads=config.threads, precision=runtime.precision
    )
