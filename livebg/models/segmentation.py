"""torchvision's semantic segmentation networks trained on the COCO subset with the 20 Pascal VOC
classes, as person (or other class) probability networks.

Tensor conventions: ``src`` is float RGB ``(B, 3, h, w)`` in [0, 1] at the resolution the network should
see; the logits are ``(B, 21, h, w)`` in the order of :data:`VOC_CLASSES`. Building a network downloads
nothing: the weights are loaded by the caller (``livebg.matting.segmentation``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torchvision.models import segmentation as tv
from torchvision.models._api import WeightsEnum

# Index i is output channel i of every network here.
VOC_CLASSES = (
    "background",
    "aeroplane",
    "bicycle",
    "bird",
    "boat",
    "bottle",
    "bus",
    "car",
    "cat",
    "chair",
    "cow",
    "diningtable",
    "dog",
    "horse",
    "motorbike",
    "person",
    "pottedplant",
    "sheep",
    "sofa",
    "train",
    "tvmonitor",
)

_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class SegmentationSpec:
    """A named network: its torchvision builder, its official weights, and the longer side (pixels)
    that the network should see by default.

    ``has_aux``: whether the builder takes ``aux_loss`` (the official FCN and DeepLabV3 checkpoints
    carry an auxiliary classifier used only in training).
    """

    builder: Callable[..., nn.Module]
    weights: WeightsEnum
    has_aux: bool
    target_size: int = 520


SEGMENTATION_MODELS: dict[str, SegmentationSpec] = {
    "fcn-resnet50": SegmentationSpec(
        tv.fcn_resnet50, tv.FCN_ResNet50_Weights.COCO_WITH_VOC_LABELS_V1, has_aux=True
    ),
    "deeplabv3-mobilenetv3": SegmentationSpec(
        tv.deeplabv3_mobilenet_v3_large,
        tv.DeepLabV3_MobileNet_V3_Large_Weights.COCO_WITH_VOC_LABELS_V1,
        has_aux=True,
    ),
    "lraspp-mobilenetv3": SegmentationSpec(
        tv.lraspp_mobilenet_v3_large,
        tv.LRASPP_MobileNet_V3_Large_Weights.COCO_WITH_VOC_LABELS_V1,
        has_aux=False,
    ),
}


def build_segmentation(name: str, aux_loss: bool = False) -> nn.Module:
    """The torchvision network ``name`` (a key of :data:`SEGMENTATION_MODELS`) with random weights and
    21 VOC classes; ``aux_loss`` adds the auxiliary classifier so an official checkpoint loads strictly."""
    spec = SEGMENTATION_MODELS[name]
    kwargs: dict[str, object] = {"weights": None, "weights_backbone": None, "num_classes": len(VOC_CLASSES)}
    if spec.has_aux:
        kwargs["aux_loss"] = aux_loss
    return spec.builder(**kwargs)


class SegmentationNetwork(nn.Module):
    """A loaded torchvision segmentation network with its input normalisation: RGB in [0, 1] in,
    VOC logits out (see the module docstring)."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        # The auxiliary head only helps training; without it inference does half the head's work.
        if getattr(net, "aux_classifier", None) is not None:
            net.aux_classifier = None
        self.net = net
        self.register_buffer("mean", torch.tensor(_IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(_IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def forward(self, src: Tensor) -> Tensor:
        return self.net((src - self.mean) / self.std)["out"]
