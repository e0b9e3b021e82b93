"""Every model livebg runs, by name: its kind, its weights, and the runtimes and precisions it runs with.

This is the one list of model names: the command line's choices, ``livebg models``, the session
factory and the weights cache all read it. Importing it imports no torch, so building the parser (and
``livebg --help``) stays quick. Like torchvision's and timm's registries, a name is registered once
(:func:`register`); whether a model, runtime, precision and device go together is decided in
:func:`livebg.matting.backend.resolve`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from livebg.errors import UsageError

DEFAULT_MODEL = "rvm-mobilenetv3"
KINDS = ("rvm", "segmentation")
# The runtimes livebg implements, in the order the command line lists them; "auto" picks among them.
RUNTIMES = ("torch", "onnxruntime", "openvino")
PRECISIONS = ("fp32", "fp16", "bf16")

# A full sha256, or a prefix of one (torchvision publishes the first 8 hex digits in its file names).
_SHA256 = re.compile(r"[0-9a-f]{8,64}")


@dataclass(frozen=True)
class WeightsSpec:
    """Where a model's official weights come from and how to check them.

    ``filename`` is the name in the cache (and, with ``LIVEBG_WEIGHTS_URL``, on the mirror).
    ``sha256`` (lowercase hex) is the published digest, or its first 8 or more digits where only
    those are published; ``size`` is the byte count. Either is ``None`` where no published value is
    known. ``licence`` says under which terms the weights are distributed.
    """

    url: str
    filename: str
    sha256: str | None
    size: int | None
    licence: str

    def __post_init__(self) -> None:
        # Programming errors in a spec, not user input: the filename must not leave the cache folder.
        if not self.filename or Path(self.filename).name != self.filename or self.filename in (".", ".."):
            raise ValueError(f"weights filename {self.filename!r} must be a plain file name")
        if self.sha256 is not None and not _SHA256.fullmatch(self.sha256):
            raise ValueError(
                f"sha256 of {self.filename} must be 64 lowercase hex digits, or a prefix of at least 8, "
                f"got {self.sha256!r}"
            )
        if self.size is not None and self.size <= 0:
            raise ValueError(f"size of {self.filename} must be a positive byte count, got {self.size}")


@dataclass(frozen=True)
class ModelSpec:
    """A named model.

    ``kind``: ``rvm`` (Robust Video Matting, recurrent) or ``segmentation`` (a torchvision network).
    ``architecture``: the RVM backbone (``mobilenetv3``, ``resnet50``) or the torchvision builder
    (``lraspp_mobilenet_v3_large``). ``runtimes`` maps each runtime that can run the model to the
    precisions it offers for it. ``input_size``: the longer side, in pixels, the network sees at the
    automatic downsample ratio. ``aux_classifier``: the official checkpoint carries a training-only
    auxiliary head (FCN, DeepLabV3).
    """

    name: str
    kind: str
    architecture: str
    description: str
    weights: WeightsSpec
    runtimes: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: {"torch": ("fp32", "fp16")})
    input_size: int = 512
    aux_classifier: bool = False

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("a model spec needs a name")
        if self.kind not in KINDS:
            raise ValueError(f"kind of {self.name} must be one of {', '.join(KINDS)}, got {self.kind!r}")
        if not self.runtimes or not set(self.runtimes) <= set(RUNTIMES):
            raise ValueError(f"runtimes of {self.name} must be some of {', '.join(RUNTIMES)}")
        for runtime, precisions in self.runtimes.items():
            if not precisions or not set(precisions) <= set(PRECISIONS):
                raise ValueError(f"precisions of {self.name} on {runtime} must be some of {PRECISIONS}")
        # Frozen all the way down: a spec is shared by every session of the model.
        object.__setattr__(self, "runtimes", MappingProxyType(dict(self.runtimes)))


_REGISTRY: dict[str, ModelSpec] = {}


def register(spec: ModelSpec) -> ModelSpec:
    """Add ``spec``; a name can be registered only once (``ValueError``)."""
    if spec.name in _REGISTRY:
        raise ValueError(f"model {spec.name!r} is already registered")
    _REGISTRY[spec.name] = spec
    return spec


def get(name: str, kind: str | None = None) -> ModelSpec:
    """The spec of model ``name`` (of ``kind`` if given); an unknown name is a :class:`UsageError`
    listing the known ones."""
    spec = _REGISTRY.get(name)
    if spec is None or (kind is not None and spec.kind != kind):
        what = f"{kind} model" if kind else "model"
        raise UsageError(f"unknown {what} {name!r}; use one of {', '.join(names(kind))}")
    return spec


def names(kind: str | None = None) -> tuple[str, ...]:
    """Every registered name (of ``kind`` if given), in registration order."""
    return tuple(name for name, spec in _REGISTRY.items() if kind is None or spec.kind == kind)


def specs() -> tuple[ModelSpec, ...]:
    """Every registered spec, in registration order."""
    return tuple(_REGISTRY.values())


# ---------------------------------------------------------------------------------------------------
# Built-in models. No checksum or size is published for the official RVM release files, so none is
# pinned: a download is checked against Content-Length and must load as a state dict. torchvision
# publishes the first 8 hex digits of each file's sha256 in its name (torch.hub checks the same).

_RVM_RELEASE = "https://github.com/PeterL1n/RobustVideoMatting/releases/download/v1.0.0"
_RVM_LICENCE = "GPL-3.0 (weights by the Robust Video Matting authors)"
# ONNX Runtime and OpenVINO run the exported graph on the CPU; fp16 is for GPUs, and OpenVINO's bf16
# (the recurrent decoder in bf16) is chosen, never automatic.
_RVM_RUNTIMES = {"torch": ("fp32", "fp16"), "onnxruntime": ("fp32",), "openvino": ("fp32", "bf16")}
_TORCHVISION = "https://download.pytorch.org/models"
_TORCHVISION_LICENCE = "torchvision's terms (its code is BSD-3-Clause; the weights may carry COCO's terms)"
_SEGMENTATION = "torchvision person segmentation (VOC classes)"


def _rvm_weights(filename: str) -> WeightsSpec:
    return WeightsSpec(f"{_RVM_RELEASE}/{filename}", filename, None, None, _RVM_LICENCE)


def _torchvision_weights(filename: str) -> WeightsSpec:
    prefix = filename.rsplit("-", 1)[1].split(".")[0]  # fcn_resnet50_coco-1167a1af.pth -> 1167a1af
    return WeightsSpec(f"{_TORCHVISION}/{filename}", filename, prefix, None, _TORCHVISION_LICENCE)


register(
    ModelSpec(
        "rvm-mobilenetv3",
        "rvm",
        "mobilenetv3",
        "Robust Video Matting, MobileNetV3 backbone; fast, suited to live video",
        _rvm_weights("rvm_mobilenetv3.pth"),
        _RVM_RUNTIMES,
    )
)
register(
    ModelSpec(
        "rvm-resnet50",
        "rvm",
        "resnet50",
        "Robust Video Matting, ResNet-50 backbone; slower, slightly finer mattes",
        _rvm_weights("rvm_resnet50.pth"),
        _RVM_RUNTIMES,
    )
)
register(
    ModelSpec(
        "fcn-resnet50",
        "segmentation",
        "fcn_resnet50",
        f"{_SEGMENTATION}, FCN with a ResNet-50 backbone; slow on a CPU",
        _torchvision_weights("fcn_resnet50_coco-1167a1af.pth"),
        input_size=520,
        aux_classifier=True,
    )
)
register(
    ModelSpec(
        "deeplabv3-mobilenetv3",
        "segmentation",
        "deeplabv3_mobilenet_v3_large",
        f"{_SEGMENTATION}, DeepLabV3 with a MobileNetV3 backbone",
        _torchvision_weights("deeplabv3_mobilenet_v3_large-fc3c493d.pth"),
        input_size=520,
        aux_classifier=True,
    )
)
register(
    ModelSpec(
        "lraspp-mobilenetv3",
        "segmentation",
        "lraspp_mobilenet_v3_large",
        f"{_SEGMENTATION}, LR-ASPP with a MobileNetV3 backbone; the fastest",
        _torchvision_weights("lraspp_mobilenet_v3_large-d234d4ea.pth"),
        input_size=520,
    )
)
