"""The graph runtimes stop at the refiner's low-resolution coefficients and upsample them with
OpenCV: the result must be what the network's own forward pass gives, and composited, what plain
PyTorch gives. The blur background enlarges its planes the same way."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from livebg.backgrounds import parse_background
from livebg.compositing import Compositor
from livebg.matting.exported.upsampling import CoefficientUpsampler
from livebg.matting.session import Matte
from livebg.models.rvm import MattingNetwork
from livebg.resize import upsample
from livebg.tensors import planes, to_tensor, to_uint8


@pytest.fixture(scope="module", params=["fast_guided_filter", "deep_guided_filter"])
def network(request) -> MattingNetwork:
    torch.manual_seed(0)
    model = MattingNetwork("mobilenetv3", request.param).eval()
    # Random BatchNorm statistics, so the decoder's output is not a near-constant.
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.2, 0.2)
            module.running_var.uniform_(0.5, 1.5)
    # Spread the outputs over [0, 1] rather than near one value (or all clamped to one end): scale and
    # centre the projection's outputs, measured on a random frame, to mean 0.5 and spread 0.3.
    seen: list[torch.Tensor] = []
    hook = model.project_mat.register_forward_hook(lambda module, args, out: seen.append(out))
    with torch.inference_mode():
        model(torch.rand(1, 3, 144, 256), (None,) * 4, 0.5)
    hook.remove()
    mean, std = seen[0].mean(dim=(0, 2, 3)), seen[0].std(dim=(0, 2, 3))
    with torch.no_grad():
        conv = model.project_mat.conv
        conv.weight.mul_((0.3 / std).view(-1, 1, 1, 1))
        conv.bias.copy_((conv.bias - mean) * 0.3 / std + 0.5)
    return model


@pytest.mark.parametrize(("height", "width", "ratio"), [(144, 256, 0.5), (121, 163, 0.37), (64, 96, 1.0)])
def test_coefficients_upsampled_on_the_cpu_equal_the_forward_pass(network, height, width, ratio) -> None:
    torch.manual_seed(1)
    src = torch.rand(1, 3, height, width)
    with torch.inference_mode():
        fgr, pha, state = network(src, (None,) * 4, ratio)
        a, b, coefficient_state = network.coefficients(src, (None,) * 4, ratio)
    assert a.shape == b.shape == (1, 4, math.floor(height * ratio), math.floor(width * ratio))
    for s, t in zip(state, coefficient_state, strict=True):
        assert torch.equal(s, t)
    if ratio == 1:
        assert not a.any()
    # Enough pixels strictly inside (0, 1) that clamping does not hide the comparison.
    assert float(((pha > 0.01) & (pha < 0.99)).float().mean()) > 0.2
    up_fgr, up_pha = CoefficientUpsampler()(a.numpy(), b.numpy(), planes(src[0]))
    assert up_fgr.shape == fgr.shape and up_pha.shape == pha.shape
    assert float((up_fgr - fgr).abs().max()) < 1e-5
    assert float((up_pha - pha).abs().max()) < 1e-5


def test_each_call_returns_fresh_tensors() -> None:
    upsample = CoefficientUpsampler()
    src = list(np.random.default_rng(0).random((3, 40, 60), dtype=np.float32))
    ones, zeros = np.ones((1, 4, 20, 30), np.float32), np.zeros((1, 4, 20, 30), np.float32)
    _, first = upsample(zeros, ones * 0.25, src)
    _, second = upsample(zeros, ones * 0.75, src)
    assert float(first.mean()) == pytest.approx(0.25) and float(second.mean()) == pytest.approx(0.75)


@pytest.mark.parametrize(("small", "large"), [((60, 107), (720, 1280)), ((5, 8), (37, 61)), ((1, 1), (4, 6))])
def test_opencv_upsampling_equals_pytorch_bilinear(small: tuple[int, int], large: tuple[int, int]) -> None:
    torch.manual_seed(0)
    image = torch.rand(1, 4, *small)
    expected = F.interpolate(image, size=large, mode="bilinear", align_corners=False)
    got = upsample(image, large)
    assert got.shape == expected.shape
    assert torch.allclose(got, expected, atol=1e-5)
    # Not float32 on the CPU, or more than one image: PyTorch itself.
    assert upsample(image.double(), large).dtype == torch.float64
    assert torch.allclose(upsample(image.expand(2, -1, -1, -1), large)[1], expected[0], atol=1e-5)


@pytest.mark.parametrize("spec", ["#00b140", "white", "transparent"])
def test_tail_matches_a_plain_pytorch_reference_within_one_level(spec: str) -> None:
    """Upsampling, applying, compositing and the uint8 conversion, as an exported session and the frame
    step chain them on a channels-last frame, against the same computed with F.interpolate."""
    rng = np.random.default_rng(3)
    rgb = rng.integers(0, 256, (45, 77, 3), dtype=np.uint8)
    # Coefficients large enough that many pixels clamp, as the refiner's do at edges.
    a = rng.uniform(-3, 3, (1, 4, 17, 28)).astype(np.float32)
    b = rng.uniform(-1, 2, (1, 4, 17, 28)).astype(np.float32)
    src = to_tensor(rgb, torch.device("cpu"))
    fgr, pha = CoefficientUpsampler()(a, b, planes(src[0]))
    compositor = Compositor(parse_background(spec))
    got = to_uint8(compositor(src, Matte(pha, fgr), 0.0))

    up_a, up_b = (
        F.interpolate(torch.from_numpy(c), (45, 77), mode="bilinear", align_corners=False) for c in (a, b)
    )
    x = src.contiguous()
    fg = (up_a[:, :3] * x + up_b[:, :3] + x).clamp(0, 1)
    alpha = (up_a[:, 3:] * x.mean(1, keepdim=True) + up_b[:, 3:]).clamp(0, 1)
    assert float(((alpha > 0) & (alpha < 1)).float().mean()) > 0.1
    assert float((pha - alpha).abs().max()) < 1e-5
    if spec == "transparent":
        expected = torch.cat([fg, alpha], dim=1)
    else:
        colour = torch.tensor(parse_background(spec).rgb, dtype=torch.float32).div(255).view(1, 3, 1, 1)
        expected = colour + alpha * (fg - colour)
    expected_u8 = (expected[0].permute(1, 2, 0) * 255).round().to(torch.uint8).numpy()
    assert got.shape == expected_u8.shape
    assert np.abs(got.astype(int) - expected_u8).max() <= 1


def test_planes_of_planar_and_channels_last_tensors() -> None:
    rgb = np.random.default_rng(4).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    channels_last = to_tensor(rgb, torch.device("cpu"))[0]
    for image in (channels_last, channels_last.contiguous()):
        got = planes(image)
        assert len(got) == 3 and all(p.flags.c_contiguous and p.dtype == np.float32 for p in got)
        assert np.array_equal(np.stack(got), image.numpy())
    planar = channels_last.contiguous()
    assert np.shares_memory(planes(planar)[1], planar.numpy())
