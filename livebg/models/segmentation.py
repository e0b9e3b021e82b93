"""torchvision's semantic segmentation networks trained on the COCO subset with the 20 Pascal VOC
classes, as person (or other class) probability networks.

Tensor conventions: ``src`` is float RGB ``(B, 3, h, w)`` in [0, 1] at the resolution the network should
see; the logits are ``(B, 21, h, w)`` in the order of :data:`VOC_CLASSES`. Building a network downloads
nothing: the weights are loaded by the caller (``livebg.matting.segmentation``); which networks livebg
offers, and their weights, is in :mod:`livebg.matting.registry`.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torchvision import models

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


def build_segmentation(architecture: str, aux_loss: bool = False) -> nn.Module:
    """torchvision's network ``architecture`` (its builder's name, e.g. ``lraspp_mobilenet_v3_large``)
    with random weights and 21 VOC classes; ``aux_loss`` adds the auxiliary classifier (FCN and
    DeepLabV3) so an official checkpoint loads strictly."""
    return models.get_model(
        architecture, weights=None, weights_backbone=None, num_classes=len(VOC_CLASSES), aux_loss=aux_loss
    )


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
