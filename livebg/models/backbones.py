"""RVM's two encoders: MobileNetV3-Large (Howard et al., 2019) and ResNet-50 (He et al., 2016), each with
its last stage dilated (output stride 16) and without a classifier.

Module and parameter names follow torchvision's layout, which the official RVM checkpoints use, so they
load with ``strict=True``. They are written here rather than imported: importing ``torchvision.models``
imports ``torchvision.ops`` and with it ``torch._dynamo``, about 3 of the 5.5 seconds live mode took to
its first picture (``benchmarks/live_startup.py``).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor, nn

_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)


def _conv_bn(
    cin: int,
    cout: int,
    kernel: int,
    *,
    stride: int = 1,
    dilation: int = 1,
    groups: int = 1,
    activation: type[nn.Module] | None = None,
) -> nn.Sequential:
    """Convolution (no bias, 'same' padding), batch norm as MobileNetV3 sets it, then ``activation``."""
    layers: list[nn.Module] = [
        nn.Conv2d(
            cin,
            cout,
            kernel,
            stride,
            (kernel - 1) // 2 * dilation,
            dilation=dilation,
            groups=groups,
            bias=False,
        ),
        nn.BatchNorm2d(cout, eps=0.001, momentum=0.01),
    ]
    if activation is not None:
        layers.append(activation(inplace=True))
    return nn.Sequential(*layers)


def _init_weights(module: nn.Module) -> None:
    """The initialisation the papers' reference code uses (He-normal convolutions, unit batch norms):
    checkpoints replace it, but an untrained network (tests) then gives a matte that is not flat."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


def _multiple_of_8(channels: int) -> int:
    """The nearest multiple of 8, rounded up where rounding would lose more than 10%."""
    rounded = max(8, (channels + 4) // 8 * 8)
    return rounded + 8 if rounded < 0.9 * channels else rounded


class _SqueezeExcitation(nn.Module):
    def __init__(self, channels: int, squeezed: int) -> None:
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(channels, squeezed, 1)
        self.fc2 = nn.Conv2d(squeezed, channels, 1)
        self.activation = nn.ReLU()
        self.scale_activation = nn.Hardsigmoid()

    def forward(self, x: Tensor) -> Tensor:
        scale = self.scale_activation(self.fc2(self.activation(self.fc1(self.avgpool(x)))))
        return x * scale


class _Block(NamedTuple):
    """One inverted-residual block of MobileNetV3-Large: input, kernel, expanded and output channels,
    squeeze-and-excitation, hard-swish (else ReLU), stride, dilation."""

    cin: int
    kernel: int
    expanded: int
    cout: int
    se: bool
    hardswish: bool
    stride: int
    dilation: int = 1


_LARGE = (
    _Block(16, 3, 16, 16, False, False, 1),
    _Block(16, 3, 64, 24, False, False, 2),
    _Block(24, 3, 72, 24, False, False, 1),
    _Block(24, 5, 72, 40, True, False, 2),
    _Block(40, 5, 120, 40, True, False, 1),
    _Block(40, 5, 120, 40, True, False, 1),
    _Block(40, 3, 240, 80, False, True, 2),
    _Block(80, 3, 200, 80, False, True, 1),
    _Block(80, 3, 184, 80, False, True, 1),
    _Block(80, 3, 184, 80, False, True, 1),
    _Block(80, 3, 480, 112, True, True, 1),
    _Block(112, 3, 672, 112, True, True, 1),
    _Block(112, 5, 672, 160, True, True, 2, 2),  # dilated instead of strided: output stride 16
    _Block(160, 5, 960, 160, True, True, 1, 2),
    _Block(160, 5, 960, 160, True, True, 1, 2),
)


class _InvertedResidual(nn.Module):
    def __init__(self, b: _Block) -> None:
        super().__init__()
        act = nn.Hardswish if b.hardswish else nn.ReLU
        layers: list[nn.Module] = []
        if b.expanded != b.cin:
            layers.append(_conv_bn(b.cin, b.expanded, 1, activation=act))
        stride = 1 if b.dilation > 1 else b.stride
        layers.append(
            _conv_bn(
                b.expanded,
                b.expanded,
                b.kernel,
                stride=stride,
                dilation=b.dilation,
                groups=b.expanded,
                activation=act,
            )
        )
        if b.se:
            layers.append(_SqueezeExcitation(b.expanded, _multiple_of_8(b.expanded // 4)))
        layers.append(_conv_bn(b.expanded, b.cout, 1))
        self.block = nn.Sequential(*layers)
        self.residual = b.stride == 1 and b.cin == b.cout

    def forward(self, x: Tensor) -> Tensor:
        y = self.block(x)
        return y + x if self.residual else y


class MobileNetV3LargeEncoder(nn.Module):
    """MobileNetV3-Large features; takes RGB in [0, 1] (ImageNet-normalised here) and returns the
    features at strides 2, 4, 8 and 16 (16, 24, 40 and 960 channels)."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            _conv_bn(3, 16, 3, stride=2, activation=nn.Hardswish),
            *(_InvertedResidual(b) for b in _LARGE),
            _conv_bn(160, 960, 1, activation=nn.Hardswish),
        )
        self.register_buffer("mean", torch.tensor(_IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(_IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        _init_weights(self)

    def forward(self, x: Tensor) -> list[Tensor]:
        x = (x - self.mean) / self.std
        feats = []
        for i, layer in enumerate(self.features):
            x = layer(x)
            if i in (1, 3, 6, 16):  # strides 2, 4, 8 and 16
                feats.append(x)
        return feats


class _Bottleneck(nn.Module):
    def __init__(
        self, cin: int, width: int, stride: int, dilation: int, downsample: nn.Module | None
    ) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride, dilation, dilation=dilation, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, width * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(width * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.relu(self.bn2(self.conv2(y)))
        return self.relu(self.bn3(self.conv3(y)) + identity)


def _stage(
    cin: int, width: int, blocks: int, stride: int, dilation: int, first_dilation: int
) -> nn.Sequential:
    downsample = None
    if stride != 1 or cin != width * 4:
        downsample = nn.Sequential(
            nn.Conv2d(cin, width * 4, 1, stride, bias=False), nn.BatchNorm2d(width * 4)
        )
    layers = [_Bottleneck(cin, width, stride, first_dilation, downsample)]
    layers += [_Bottleneck(width * 4, width, 1, dilation, None) for _ in range(blocks - 1)]
    return nn.Sequential(*layers)


class ResNet50Encoder(nn.Module):
    """ResNet-50 features (its input normalised by the caller); returns the features at strides 2, 4, 8
    and 16 (64, 256, 512 and 2048 channels), the last stage dilated instead of strided."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.layer1 = _stage(64, 64, 3, 1, 1, 1)
        self.layer2 = _stage(256, 128, 4, 2, 1, 1)
        self.layer3 = _stage(512, 256, 6, 2, 1, 1)
        self.layer4 = _stage(1024, 512, 3, 1, 2, 1)
        _init_weights(self)

    def forward(self, x: Tensor) -> list[Tensor]:
        f1 = self.relu(self.bn1(self.conv1(x)))
        f2 = self.layer1(self.maxpool(f1))
        f3 = self.layer2(f2)
        f4 = self.layer4(self.layer3(f3))
        return [f1, f2, f3, f4]
