"""The graph runtimes stop at the refiner's low-resolution coefficients and upsample them with
OpenCV: the result must be what the network's own forward pass gives. The blur background enlarges
its planes the same way."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from livebg.matting.exported.upsampling import CoefficientUpsampler
from livebg.models.rvm import MattingNetwork
from livebg.resize import upsample


@pytest.fixture(scope="module", params=["fast_guided_filter", "deep_guided_filter"])
def network(request) -> MattingNetwork:
    torch.manual_seed(0)
    model = MattingNetwork("mobilenetv3", request.param).eval()
    # Random BatchNorm statistics, so the decoder's output is not a near-constant.
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.2, 0.2)
            module.running_var.uniform_(0.5, 1.5)
    with torch.no_grad():  # spread the outputs over [0, 1] rather than near one value
        model.project_mat.conv.weight.mul_(10)
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
    up_fgr, up_pha = CoefficientUpsampler()(a.numpy(), b.numpy(), src.numpy())
    assert up_fgr.shape == fgr.shape and up_pha.shape == pha.shape
    assert float((up_fgr - fgr).abs().max()) < 1e-5
    assert float((up_pha - pha).abs().max()) < 1e-5


def test_each_call_returns_fresh_tensors() -> None:
    upsample = CoefficientUpsampler()
    src = np.random.default_rng(0).random((1, 3, 40, 60), dtype=np.float32)
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
