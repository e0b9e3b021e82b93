"""Sessions for torchvision's segmentation networks: the probability of the kept VOC classes (a person,
and optionally a pet) becomes the alpha.

Per-frame segmentation flickers and has edges as coarse as the network's output grid, so the session
smooths the mask over time (:class:`~livebg.matting.temporal.TemporalSmoother`) and snaps its edges to
the full-resolution frame with a fast guided filter; each has a switch in :class:`ModelConfig`.

The official weights are torchvision's files, downloaded like RVM's into livebg's weights cache
(:mod:`livebg.weights`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from livebg import weights as weights_module
from livebg.config import ModelConfig
from livebg.errors import UsageError, WeightsError
from livebg.matting import registry
from livebg.matting.session import DownsampleRatio, Matte
from livebg.matting.temporal import TemporalSmoother
from livebg.models.filters import fast_guided_filter
from livebg.models.segmentation import VOC_CLASSES, SegmentationNetwork, build_segmentation

# Guided filter: the radius in pixels of the network's input, tied to the networks' output grid (stride
# 8) rather than to the picture, so it scales with the frame through the downsample ratio; the
# regularisation is in grey-level units squared. Tuned on the P3M portraits in shared/data against their
# reference alpha with a stride-8 coarse mask at 520 px: the error in the edge band drops by about 13 %
# while the whole-image error stays the same; wider windows or a smaller eps pull background texture in.
_GUIDE_RADIUS = 4
_GUIDE_EPS = 1e-3


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


def load_segmentation(name: str, weights: Path | None = None, offline: bool = False) -> SegmentationNetwork:
    """The network ``name`` with ``weights`` (a state dict file) or else the official checkpoint from
    the weights cache (downloaded there unless ``offline``), loaded strictly. Raises
    :class:`WeightsError`, or :class:`~livebg.errors.InputNotFoundError` for a missing ``weights``."""
    spec = registry.get(name, kind="segmentation")
    path = weights_module.resolve_weights(name, weights, offline=offline)
    if weights is not None:
        return _network_from_file(spec, path, f"pass a {name} state dict with --weights")
    return _network_from_file(spec, path, "delete it to download it again, or pass --weights PATH")


def _network_from_file(spec: registry.ModelSpec, path: Path, remedy: str) -> SegmentationNetwork:
    state_dict = weights_module.read_state_dict(path, f"weights file {path}", remedy)
    # The official FCN and DeepLabV3 checkpoints carry the training-only auxiliary head; a fine-tuned
    # one may not. Building to match keeps the load strict either way.
    aux = any(k.startswith("aux_classifier.") for k in state_dict)
    net = build_segmentation(spec.architecture, aux_loss=aux and spec.aux_classifier)
    try:
        net.load_state_dict(state_dict, strict=True)
    except RuntimeError as exc:
        raise WeightsError(
            f"weights file {path} does not match the {spec.name} layout ({str(exc).splitlines()[0]}); "
            f"{remedy}"
        ) from exc
    return SegmentationNetwork(net).eval()


class SegmentationSession(DownsampleRatio):
    """Runs a segmentation network on one stream. See :class:`MattingSession`.

    ``network`` maps RGB ``(B, 3, h, w)`` in [0, 1] to VOC logits ``(B, 21, h, w)`` (a
    :class:`SegmentationNetwork`). The alpha is the summed probability of ``keep_classes``;
    ``foreground`` is always ``None``.
    ``input_size``: the longer side (pixels) the network sees when ``downsample_ratio`` is ``None``.
    Forks share the network, which holds no state; each has its own smoothing.
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
        input_size: int = 520,
    ) -> None:
        self.classes = class_indices(keep_classes)
        # Channels-last suits oneDNN's and cuDNN's convolutions; frames from to_tensor() already have it.
        self.network = network.to(device=device, dtype=dtype, memory_format=torch.channels_last).eval()
        self.device = device
        self.dtype = dtype
        self.set_downsample_ratio(downsample_ratio)
        self.name = name
        self.refine_edges = refine_edges
        self.input_size = input_size
        self.smoother = TemporalSmoother() if smoothing else None
        self._size: tuple[int, int] | None = None

    def prepare(self, height: int, width: int, ratio: float | None = None) -> None:
        """Nothing to compile ahead: PyTorch runs eagerly."""

    def reset(self) -> None:
        if self.smoother is not None:
            self.smoother.reset()
        self._size = None

    def fork(self) -> SegmentationSession:
        return SegmentationSession(
            self.network,
            self.device,
            self.dtype,
            self.downsample_ratio,
            self.name,
            keep_classes=[VOC_CLASSES[i] for i in self.classes],
            smoothing=self.smoother is not None,
            refine_edges=self.refine_edges,
            input_size=self.input_size,
        )

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
    """A :class:`SegmentationSession` for ``config`` (a segmentation model name) on ``device``, with
    tensors of ``dtype`` (the runtime and precision are checked by the caller,
    :func:`livebg.matting.backend.resolve`)."""
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
        input_size=registry.get(config.name).input_size,
    )
