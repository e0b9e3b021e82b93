"""Robust Video Matting network (Lin et al., "Robust High-Resolution Video Matting with Temporal
Guidance", WACV 2022), written from the paper and the official checkpoint's key layout.

Tensor conventions: ``src`` is float RGB ``(B, 3, H, W)`` in [0, 1]; ``fgr`` is ``(B, 3, H, W)`` RGB in
[0, 1]; ``pha`` is ``(B, 1, H, W)`` in [0, 1]; the four recurrent states ``r1..r4`` live at 1/2, 1/4, 1/8
and 1/16 of the *downsampled* input. Module and parameter names follow the official checkpoints so they
load with ``strict=True``.

About 430 lines: the whole network in one file, as the paper presents it (encoders, LR-ASPP, recurrent
decoder, both refiners), with no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from livebg.models.backbones import MobileNetV3LargeEncoder, ResNet50Encoder
from livebg.models.filters import box_filter

Variant = Literal["mobilenetv3", "resnet50"]
Refiner = Literal["deep_guided_filter", "fast_guided_filter"]
State = tuple[Tensor | None, Tensor | None, Tensor | None, Tensor | None]

class LRASPP(nn.Module):
    """Lite R-ASPP: a 1x1 projection gated by a global-pooling branch."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.aspp1 = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, 1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(True),
        )
        self.aspp2 = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Conv2d(in_channels, out_channels, 1, bias=False),
            nn.Sigmoid(),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.aspp1(x) * self.aspp2(x)


class ConvGRU(nn.Module):
    """Convolutional GRU; a missing hidden state starts at zero."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.channels = channels
        self.ih = nn.Sequential(nn.Conv2d(channels * 2, channels * 2, 3, padding=1), nn.Sigmoid())
        self.hh = nn.Sequential(nn.Conv2d(channels * 2, channels, 3, padding=1), nn.Tanh())

    def forward(self, x: Tensor, h: Tensor | None) -> Tensor:
        if h is None:
            h = torch.zeros_like(x)
        r, z = self.ih(torch.cat([x, h], dim=1)).split(self.channels, dim=1)
        c = self.hh(torch.cat([x, r * h], dim=1))
        return (1 - z) * h + z * c


class BottleneckBlock(nn.Module):
    """Runs a ConvGRU on half of the channels of the deepest feature."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.channels = channels
        self.gru = ConvGRU(channels // 2)

    def forward(self, x: Tensor, r: Tensor | None) -> tuple[Tensor, Tensor]:
        a, b = x.split(self.channels // 2, dim=1)
        r = self.gru(b, r)
        return torch.cat([a, r], dim=1), r


def _upsample_to(x: Tensor, like: Tensor) -> Tensor:
    """2x bilinear upsampling, cropped to ``like``'s size (odd sizes round up on the way down)."""
    x = F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)
    return x[:, :, : like.shape[2], : like.shape[3]]


class UpsamplingBlock(nn.Module):
    def __init__(self, in_channels: int, skip_channels: int, src_channels: int, out_channels: int) -> None:
        super().__init__()
        self.out_channels = out_channels
        self.conv = nn.Sequential(
            nn.Conv2d(in_channels + skip_channels + src_channels, out_channels, 3, 1, 1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(True),
        )
        self.gru = ConvGRU(out_channels // 2)

    def forward(self, x: Tensor, f: Tensor, s: Tensor, r: Tensor | None) -> tuple[Tensor, Tensor]:
        x = self.conv(torch.cat([_upsample_to(x, s), f, s], dim=1))
        a, b = x.split(self.out_channels // 2, dim=1)
        r = self.gru(b, r)
        return torch.cat([a, r], dim=1), r


class OutputBlock(nn.Module):
    def __init__(self, in_channels: int, src_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(in_channels + src_channels, out_channels, 3, 1, 1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(True),
            nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(True),
        )

    def forward(self, x: Tensor, s: Tensor) -> Tensor:
        return self.conv(torch.cat([_upsample_to(x, s), s], dim=1))


class RecurrentDecoder(nn.Module):
    def __init__(self, feature_channels: list[int], decoder_channels: list[int]) -> None:
        super().__init__()
        self.avgpool = nn.AvgPool2d(2, 2, count_include_pad=False, ceil_mode=True)
        self.decode4 = BottleneckBlock(feature_channels[3])
        self.decode3 = UpsamplingBlock(feature_channels[3], feature_channels[2], 3, decoder_channels[0])
        self.decode2 = UpsamplingBlock(decoder_channels[0], feature_channels[1], 3, decoder_channels[1])
        self.decode1 = UpsamplingBlock(decoder_channels[1], feature_channels[0], 3, decoder_channels[2])
        self.decode0 = OutputBlock(decoder_channels[2], 3, decoder_channels[3])

    def forward(
        self, s0: Tensor, f1: Tensor, f2: Tensor, f3: Tensor, f4: Tensor, state: State
    ) -> tuple[Tensor, tuple[Tensor, Tensor, Tensor, Tensor]]:
        s1 = self.avgpool(s0)
        s2 = self.avgpool(s1)
        s3 = self.avgpool(s2)
        x4, r4 = self.decode4(f4, state[3])
        x3, r3 = self.decode3(x4, f3, s3, state[2])
        x2, r2 = self.decode2(x3, f2, s2, state[1])
        x1, r1 = self.decode1(x2, f1, s1, state[0])
        return self.decode0(x1, s0), (r1, r2, r3, r4)


class Projection(nn.Module):
    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(x)


def _with_gray(x: Tensor) -> Tensor:
    return torch.cat([x, x.mean(1, keepdim=True)], dim=1)


def _local_statistics(
    x: Tensor, y: Tensor, box: Callable[[Tensor], Tensor]
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Local means of guide ``x`` and target ``y``, their covariance and the guide's variance."""
    mean_x, mean_y = box(x), box(y)
    cov_xy = box(x * y) - mean_x * mean_y
    var_x = box(x * x) - mean_x * mean_x
    return mean_x, mean_y, cov_xy, var_x


def apply_coefficients(a: Tensor, b: Tensor, fine_src: Tensor) -> tuple[Tensor, Tensor]:
    """Upsample the low-resolution linear model ``y = a * x + b`` (``a``, ``b``: ``(B, 4, h, w)``) and
    apply it to the full frame, whose guide ``x`` is its RGB and their mean; returns the foreground
    residual ``y[:, :3]`` and the alpha ``y[:, 3:]``, both unclamped."""
    size = fine_src.shape[2:]
    a = F.interpolate(a, size, mode="bilinear", align_corners=False)
    b = F.interpolate(b, size, mode="bilinear", align_corners=False)
    out = a * _with_gray(fine_src) + b
    return out[:, :3], out[:, 3:]


class FastGuidedFilterRefiner(nn.Module):
    """Parameter-free fast guided filter (He & Sun) that carries the low-resolution prediction up to
    the full-resolution frame, guided by the frame's colours."""

    def __init__(self, radius: int = 1, eps: float = 1e-5) -> None:
        super().__init__()
        self.radius = radius
        self.eps = eps

    def coefficients(
        self, base_src: Tensor, base_fgr: Tensor, base_pha: Tensor, base_hid: Tensor
    ) -> tuple[Tensor, Tensor]:
        """The linear model ``y = a * x + b`` at the low resolution (see :func:`apply_coefficients`)."""
        base_x = _with_gray(base_src)
        base_y = torch.cat([base_fgr, base_pha], dim=1)
        mean_x, mean_y, cov_xy, var_x = _local_statistics(
            base_x, base_y, lambda t: box_filter(t, self.radius)
        )
        a = cov_xy / (var_x + self.eps)
        return a, mean_y - a * mean_x


class DeepGuidedFilterRefiner(nn.Module):
    """Deep guided filter (Wu et al.): the guided filter's coefficients are predicted by a small
    network from local statistics and the decoder's hidden features."""

    def __init__(self, hid_channels: int = 16) -> None:
        super().__init__()
        self.box_filter = nn.Conv2d(4, 4, kernel_size=3, padding=1, bias=False, groups=4)
        with torch.no_grad():
            self.box_filter.weight.fill_(1.0 / 9)
        self.conv = nn.Sequential(
            nn.Conv2d(4 * 2 + hid_channels, hid_channels, kernel_size=1, bias=False),
            nn.BatchNorm2d(hid_channels),
            nn.ReLU(True),
            nn.Conv2d(hid_channels, hid_channels, kernel_size=1, bias=False),
            nn.BatchNorm2d(hid_channels),
            nn.ReLU(True),
            nn.Conv2d(hid_channels, 4, kernel_size=1, bias=True),
        )

    def coefficients(
        self, base_src: Tensor, base_fgr: Tensor, base_pha: Tensor, base_hid: Tensor
    ) -> tuple[Tensor, Tensor]:
        """The linear model ``y = a * x + b`` at the low resolution (see :func:`apply_coefficients`)."""
        base_x = _with_gray(base_src)
        base_y = torch.cat([base_fgr, base_pha], dim=1)
        mean_x, mean_y, cov_xy, var_x = _local_statistics(base_x, base_y, self.box_filter)
        a = self.conv(torch.cat([cov_xy, var_x, base_hid], dim=1))
        return a, mean_y - a * mean_x


_CHANNELS: dict[str, tuple[int, int, list[int], list[int]]] = {
    # variant: (backbone out, aspp out, decoder feature channels, decoder channels)
    "mobilenetv3": (960, 128, [16, 24, 40, 128], [80, 40, 32, 16]),
    "resnet50": (2048, 256, [64, 256, 512, 256], [128, 64, 32, 16]),
}


class MattingNetwork(nn.Module):
    """RVM: encoder, LR-ASPP, recurrent decoder, projections and a high-resolution refiner.

    ``forward(src, state, downsample_ratio)`` returns ``(fgr, pha, state)``; ``segment(src, state,
    downsample_ratio)`` returns the person-segmentation logits (``(B, 1, h, w)`` at the downsampled
    size) and the state of the segmentation pass.

    The batch holds independent streams (the state has the same batch), or with ``sequence=True``
    consecutive frames of one stream (a state of batch 1): the encoder and the refiner then see all the
    frames at once and the recurrent decoder one after another, which keeps a GPU busy on files.
    """

    def __init__(self, variant: Variant = "mobilenetv3", refiner: Refiner = "deep_guided_filter") -> None:
        super().__init__()
        if variant not in _CHANNELS:
            raise ValueError(f"unknown RVM variant {variant!r}; expected one of {sorted(_CHANNELS)}")
        if refiner not in ("deep_guided_filter", "fast_guided_filter"):
            raise ValueError(
                f"unknown refiner {refiner!r}; expected deep_guided_filter or fast_guided_filter"
            )
        backbone_out, aspp_out, feature_channels, decoder_channels = _CHANNELS[variant]
        self.variant = variant
        self.refiner_kind = refiner
        self.backbone = MobileNetV3LargeEncoder() if variant == "mobilenetv3" else ResNet50Encoder()
        self.aspp = LRASPP(backbone_out, aspp_out)
        self.decoder = RecurrentDecoder(feature_channels, decoder_channels)
        self.project_mat = Projection(decoder_channels[-1], 4)
        self.project_seg = Projection(decoder_channels[-1], 1)
        self.refiner = (
            DeepGuidedFilterRefiner() if refiner == "deep_guided_filter" else FastGuidedFilterRefiner()
        )

    def encode(self, src_sm: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """Features of the downsampled frame at 1/2, 1/4, 1/8 and 1/16 (the last through LR-ASPP)."""
        f1, f2, f3, f4 = self.backbone(src_sm)
        return f1, f2, f3, self.aspp(f4)

    def decode(
        self, src_sm: Tensor, features: tuple[Tensor, Tensor, Tensor, Tensor], state: State
    ) -> tuple[Tensor, tuple[Tensor, Tensor, Tensor, Tensor]]:
        """The recurrent decoder: hidden features at the downsampled size and the next state."""
        return self.decoder(src_sm, *features, state)

    def head(self, src_sm: Tensor, hid: Tensor, downsample_ratio: float) -> tuple[Tensor, Tensor]:
        """The coefficients ``(a, b)`` of :meth:`coefficients` from the decoder's hidden features."""
        fgr_residual, pha = self.project_mat(hid).split([3, 1], dim=1)
        if downsample_ratio != 1:
            return self.refiner.coefficients(src_sm, fgr_residual, pha, hid)
        b = torch.cat([fgr_residual, pha], dim=1)
        return torch.zeros_like(b), b

    def _decode(
        self, src_sm: Tensor, state: State, sequence: bool = False
    ) -> tuple[Tensor, tuple[Tensor, Tensor, Tensor, Tensor]]:
        features = self.encode(src_sm)
        if not sequence or src_sm.shape[0] == 1:
            return self.decode(src_sm, features, state)
        # Consecutive frames of one stream: the encoder ran on all of them at once; the recurrent
        # decoder takes them one by one, each with the state the previous one left.
        f1, f2, f3, f4 = features
        hidden = []
        for t in range(src_sm.shape[0]):
            step = slice(t, t + 1)
            hid, new_state = self.decode(src_sm[step], (f1[step], f2[step], f3[step], f4[step]), state)
            hidden.append(hid)
            state = new_state
        return torch.cat(hidden), new_state

    def forward(
        self,
        src: Tensor,
        state: State = (None, None, None, None),
        downsample_ratio: float = 1.0,
        *,
        sequence: bool = False,
    ) -> tuple[Tensor, Tensor, tuple[Tensor, Tensor, Tensor, Tensor]]:
        src_sm = downsample(src, downsample_ratio)
        hid, new_state = self._decode(src_sm, state, sequence)
        if downsample_ratio != 1:
            fgr_residual, pha = apply_coefficients(*self.head(src_sm, hid, downsample_ratio), src)
        else:
            fgr_residual, pha = self.project_mat(hid).split([3, 1], dim=1)
        fgr = (fgr_residual + src).clamp(0.0, 1.0)
        return fgr, pha.clamp(0.0, 1.0), new_state

    def coefficients(
        self, src: Tensor, state: State = (None, None, None, None), downsample_ratio: float = 1.0
    ) -> tuple[Tensor, Tensor, tuple[Tensor, Tensor, Tensor, Tensor]]:
        """The network up to the refiner's low-resolution linear model: returns ``(a, b, state)`` with
        ``a``, ``b`` of shape ``(B, 4, h, w)`` at the downsampled size, such that
        :func:`apply_coefficients` on ``src`` gives what :meth:`forward` returns before its clamping
        (the foreground as a residual to ``src``). At ratio 1 there is no refiner: ``a`` is zero and
        ``b`` holds the residual and alpha themselves.

        This lets a runtime run the small, low-resolution part as a graph and the full-resolution
        upsampling, which needs no weights, with its own image kernels.
        """
        src_sm = downsample(src, downsample_ratio)
        hid, new_state = self._decode(src_sm, state)
        a, b = self.head(src_sm, hid, downsample_ratio)
        return a, b, new_state

    def segment(
        self,
        src: Tensor,
        state: State = (None, None, None, None),
        downsample_ratio: float = 1.0,
        *,
        sequence: bool = False,
    ) -> tuple[Tensor, tuple[Tensor, Tensor, Tensor, Tensor]]:
        hid, new_state = self._decode(downsample(src, downsample_ratio), state, sequence)
        return self.project_seg(hid), new_state


def downsample(src: Tensor, ratio: float) -> Tensor:
    """Bilinear resize by ``ratio`` to ``floor(size * ratio)`` pixels (computed in double), identity at 1.

    The size is passed explicitly: an exported graph given the scale instead computes it in float32,
    which for ratios such as 0.225 at 720 px gives 161 rows where PyTorch gives 162. Where the product
    is a whole number (the usual ratios) this samples exactly as a scale factor would.
    """
    if ratio == 1:
        return src
    height, width = src.shape[-2:]
    size = (math.floor(int(height) * ratio), math.floor(int(width) * ratio))
    return F.interpolate(src, size=size, mode="bilinear", align_corners=False)


def detect_refiner(state_dict: dict[str, Tensor]) -> Refiner:
    """A checkpoint without ``refiner.*`` keys was made for the parameter-free fast guided filter."""
    return "deep_guided_filter" if any(k.startswith("refiner.") for k in state_dict) else "fast_guided_filter"


def detect_variant(state_dict: dict[str, Tensor]) -> Variant | None:
    """Which backbone a checkpoint holds, from a key only that backbone has; None when neither."""
    if "backbone.features.0.0.weight" in state_dict:
        return "mobilenetv3"
    if "backbone.conv1.weight" in state_dict:
        return "resnet50"
    return None
