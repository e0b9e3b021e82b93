"""Sessions for torchvision's segmentation networks: the probability of the kept VOC classes (a person,
and optionally a pet) becomes the alpha.

Per-frame segmentation flickers and has edges as coarse as the network's output grid, so the session
smooths the mask over time (:class:`~livebg.matting.temporal.TemporalSmoother`) and snaps its edges to
the full-resolution frame with a fast guided filter; each has a switch in :class:`ModelConfig`.

The official weights come through torchvision's weights API into torch hub's cache
(``torch.hub.get_dir()/checkpoints``), so they are shared with any other program that uses torchvision.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlparse

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from livebg import weights as weights_module
from livebg.config import ModelConfig
from livebg.errors import InputNotFoundError, UsageError, WeightsError
from livebg.matting.session import Matte, auto_downsample_ratio
from livebg.matting.temporal import TemporalSmoother
from livebg.models.filters import fast_guided_filter
from livebg.models.segmentation import (
    SEGMENTATION_MODELS,
    VOC_CLASSES,
    SegmentationNetwork,
    build_segmentation,
)

log = logging.getLogger(__name__)

# Guided filter: the radius in pixels of the network's input, tied to the networks' output grid (stride
# 8) rather than to the picture, so it scales with the frame through the downsample ratio; the
# regularisation is in grey-level units squared. Tuned on the P3M portraits in shared/data against their
# reference alpha with a stride-8 coarse mask at 520 px: the error in the edge band drops by about 13 %
# while the whole-image error stays the same; wider windows or a smaller eps pull background texture in.
_GUIDE_RADIUS = 4
_GUIDE_EPS = 1e-3


def cached_weights_path(name: str) -> Path:
    """Where torch hub keeps (or would keep) the official weights of segmentation model ``name``."""
    url = SEGMENTATION_MODELS[name].weights.url
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(urlparse(url).path)


def class_indices(names: Sequence[str]) -> tuple[int, ...]:
    """Output channels of the VOC class ``names`` (e.g. ``("person", "dog")``), in the given order."""
    if not names:
        raise UsageError(f"--keep-classes is empty; give one or more of {', '.join(VOC_CLASSES)}")
    indices = []
    for name in names:
        key = name.strip().lower()
        if key not in VOC_CLASSES:
            raise UsageError(
                f"unknown class {name!r} in --keep-classes; use names from {', '.join(VOC_CLASSES)}"
            )
        indices.append(VOC_CLASSES.index(key))
    return tuple(dict.fromkeys(indices))


def fetch_weights(name: str, offline: bool = False) -> Path:
    """The official checkpoint of segmentation model ``name`` in torch hub's cache, downloaded there
    through torchvision's weights API (hash checked) unless it is cached already or downloads are off.
    Raises :class:`WeightsError` with the URL and the path to put the file at."""
    _check_name(name)
    cached = cached_weights_path(name)
    if cached.is_file():  # checked first so that a cached model never touches the network
        return cached
    weights = SEGMENTATION_MODELS[name].weights
    if offline or weights_module.offline_forced():
        raise WeightsError(
            f"the {name} weights are not in torch hub's cache and downloads are off (--offline or "
            f"LIVEBG_OFFLINE); download {weights.url} to {cached}, or pass --weights PATH"
        )
    log.info("downloading the %s weights from %s to %s", name, weights.url, cached)
    try:
        weights.get_state_dict(progress=True, check_hash=True, weights_only=True)
    except Exception as exc:  # urllib, torch.hub's hash check and torch.load raise many kinds
        raise WeightsError(
            f"cannot download the {name} weights from {weights.url} ({type(exc).__name__}: {exc}); "
            f"download that file to {cached} yourself, or pass --weights PATH"
        ) from exc
    return cached


def load_segmentation(name: str, weights: Path | None = None, offline: bool = False) -> SegmentationNetwork:
    """The network ``name`` with ``weights`` (a state dict file) or else the official checkpoint
    (:func:`fetch_weights`), loaded strictly. Raises :class:`WeightsError`."""
    _check_name(name)
    if weights is not None:
        return _network_from_file(name, Path(weights), f"pass a {name} state dict with --weights")
    cached = fetch_weights(name, offline)
    return _network_from_file(name, cached, "delete it to download it again, or pass --weights PATH")


def _check_name(name: str) -> None:
    if name not in SEGMENTATION_MODELS:
        raise UsageError(f"unknown segmentation model {name!r}; use one of {', '.join(SEGMENTATION_MODELS)}")


def _network_from_file(name: str, path: Path, remedy: str) -> SegmentationNetwork:
    if not path.is_file():
        raise InputNotFoundError(f"weights file {path} does not exist; {remedy}")
    state_dict = weights_module.read_state_dict(path, f"weights file {path}", remedy)
    # The official FCN and DeepLabV3 checkpoints carry the training-only auxiliary head; a fine-tuned
    # one may not. Building to match keeps the load strict either way.
    aux = any(k.startswith("aux_classifier.") for k in state_dict)
    net = build_segmentation(name, aux_loss=aux and SEGMENTATION_MODELS[name].has_aux)
    try:
        net.load_state_dict(state_dict, strict=True)
    except RuntimeError as exc:
        raise WeightsError(
            f"weights file {path} does not match the {name} layout ({str(exc).splitlines()[0]}); {remedy}"
        ) from exc
    return SegmentationNetwork(net).eval()


class SegmentationSession:
    """Runs a segmentation network on one stream. See :class:`MattingSession`.

    ``network`` maps RGB ``(B, 3, h, w)`` in [0, 1] to VOC logits ``(B, 21, h, w)`` (a
    :class:`SegmentationNetwork`). The alpha is the summed probability of ``keep_classes``;
    ``foreground`` is always ``None``.
    ``target_size``: the longer side (pixels) the network sees when ``downsample_ratio`` is ``None``.
    """

    backend = "torch"

    def __init__(
        self,
        network: nn.Module,
        device: torch.device,
        dtype: torch.dtype = torch.float32,
        downsample_ratio: float | None = None,
        name: str = "segmentation",
        keep_classes: Sequence[str] = ("person",),
        smoothing: bool = True,
        refine_edges: bool = True,
        target_size: int = 520,
    ) -> None:
        self.classes = class_indices(keep_classes)
        # Channels-last suits oneDNN's and cuDNN's convolutions; frames from to_tensor() already have it.
        self.network = network.to(device=device, dtype=dtype, memory_format=torch.channels_last).eval()
        self.device = device
        self.dtype = dtype
        self.downsample_ratio = downsample_ratio
        self.name = name
        self.refine_edges = refine_edges
        self.target_size = target_size
        self.smoother = TemporalSmoother() if smoothing else None
        self._size: tuple[int, int] | None = None

    def current_ratio(self, height: int, width: int) -> float:
        return self.downsample_ratio or auto_downsample_ratio(height, width, self.target_size)

    def set_downsample_ratio(self, ratio: float | None) -> None:
        self.downsample_ratio = ratio

    def prepare(self, height: int, width: int, ratio: float | None = None) -> None:
        """Nothing to compile ahead: PyTorch runs eagerly."""

    def reset(self) -> None:
        if self.smoother is not None:
            self.smoother.reset()
        self._size = None

    @torch.inference_mode()
    def __call__(self, src: Tensor) -> Matte:
        height, width = src.shape[-2:]
        if (height, width) != self._size:
            self.reset()
            self._size = (height, width)
        ratio = self.current_ratio(height, width)
        low = (max(1, round(height * ratio)), max(1, round(width * ratio)))
        # Antialiased like torchvision's own preprocessing for these weights.
        small = src if low == (height, width) else F.interpolate(src, low, mode="bilinear", antialias=True)
        # Measured on CPU at 520x292: LR-ASPP takes ~0.35 s channels-last and ~2.8 s contiguous.
        small = small.contiguous(memory_format=torch.channels_last)
        logits = self.network(small)
        # float32 from here: in fp16 the guided filter's local variances (~1e-3) keep too few digits.
        mask = logits.float().softmax(dim=1)[:, self.classes].sum(dim=1, keepdim=True)
        if self.smoother is not None:  # frame by frame, in order
            mask = torch.cat([self.smoother(m) for m in mask.split(1)])
        if self.refine_edges:
            guide_low = small.float().mean(dim=1, keepdim=True)
            guide_full = src.float().mean(dim=1, keepdim=True)
            alpha = fast_guided_filter(guide_low, mask, guide_full, _GUIDE_RADIUS, _GUIDE_EPS)
        elif low != (height, width):
            alpha = F.interpolate(mask, (height, width), mode="bilinear", align_corners=False)
        else:
            alpha = mask
        # Out of place: with smoothing and no resizing, `mask` is the smoother's own running average.
        return Matte(alpha=alpha.clamp(0, 1).to(self.dtype), foreground=None)


def create_segmentation_session(
    config: ModelConfig, device: torch.device, dtype: torch.dtype
) -> SegmentationSession:
    """A :class:`SegmentationSession` for ``config`` (a segmentation model name) on ``device``."""
    if config.backend not in ("auto", "torch"):
        raise UsageError(
            f"--backend {config.backend} runs the RVM models only; "
            f"{config.name} runs with --backend torch or auto"
        )
    classes = class_indices(config.keep_classes)  # a bad class name fails before any download
    network = load_segmentation(config.name, config.weights, offline=config.offline)
    return SegmentationSession(
        network,
        device,
        dtype,
        config.downsample_ratio,
        name=config.name,
        keep_classes=[VOC_CLASSES[i] for i in classes],
        smoothing=config.smoothing,
        refine_edges=config.refine_edges,
        target_size=SEGMENTATION_MODELS[config.name].target_size,
    )
