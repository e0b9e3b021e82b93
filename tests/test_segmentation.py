"""torchvision segmentation models behind the session interface, their weights in livebg's cache,
temporal smoothing, edge refinement, and forks for other streams.

The official weights cannot be downloaded here, so the networks run with random weights saved in the
test; smoothing and refinement are measured on synthetic masks with a known truth. Downloads through a
local server are in test_weights.py.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
from pathlib import Path

import pytest
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from livebg import weights as weights_module
from livebg.config import ModelConfig
from livebg.errors import InputNotFoundError, UsageError, WeightsError
from livebg.matting import registry
from livebg.matting.factory import create_session
from livebg.matting.segmentation import SegmentationSession, class_indices, load_segmentation
from livebg.matting.session import MattingSession
from livebg.matting.temporal import TemporalSmoother
from livebg.models.filters import box_mean, fast_guided_filter
from livebg.models.segmentation import VOC_CLASSES, build_segmentation

CPU = torch.device("cpu")
PERSON, DOG = VOC_CLASSES.index("person"), VOC_CLASSES.index("dog")
SEGMENTATION_MODELS = registry.names("segmentation")


@pytest.fixture(autouse=True)
def _no_downloads(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """An empty weights cache of the test's own, and a mirror that is an empty folder: any download
    attempt fails at once, without the network. Returns the mirror folder."""
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    monkeypatch.setenv("LIVEBG_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("LIVEBG_WEIGHTS_URL", mirror.as_uri())
    monkeypatch.delenv("LIVEBG_OFFLINE", raising=False)
    return mirror


def _random_weights(name: str, path: Path, seed: int = 0) -> Path:
    """A state dict of ``name`` with random weights, in the official layout (with the auxiliary head
    where the official checkpoint has one)."""
    spec = registry.get(name)
    torch.manual_seed(seed)
    torch.save(build_segmentation(spec.architecture, aux_loss=spec.aux_classifier).state_dict(), path)
    return path


def _grid(height: int, width: int) -> tuple[Tensor, Tensor]:
    return torch.meshgrid(torch.arange(height).float(), torch.arange(width).float(), indexing="ij")


def _star(height: int, width: int) -> Tensor:
    """A five-armed star, 1 inside: its edges run at every angle, never along a pixel grid."""
    yy, xx = _grid(height, width)
    cy, cx, scale = height / 2, width / 2, height / 192
    angle = torch.atan2(yy - cy, xx - cx)
    radius = ((xx - cx) ** 2 + (yy - cy) ** 2).sqrt()
    return (radius < scale * (60 + 18 * torch.cos(5 * angle))).float()[None, None]


def _flicker(masks: list[Tensor]) -> float:
    """Mean absolute frame-to-frame change."""
    return torch.stack([(b - a).abs().mean() for a, b in itertools.pairwise(masks)]).mean().item()


class _Logits(nn.Module):
    """Stands in for a network: returns ``make(height, width)`` as the logits of the frame it sees."""

    def __init__(self, make) -> None:  # type: ignore[no-untyped-def]
        super().__init__()
        self.make = make
        self.seen: list[tuple[int, int]] = []

    def forward(self, src: Tensor) -> Tensor:
        self.seen.append((src.shape[-2], src.shape[-1]))
        return self.make(src.shape[-2], src.shape[-1])


def _person_logits(mask: Tensor, other: int | None = None, other_mask: Tensor | None = None) -> Tensor:
    """Logits whose softmax gives the person the probability ``mask`` (``(1, 1, h, w)`` in [0, 1]), to
    within 1e-4, and class ``other`` the probability ``other_mask`` where the person has none."""
    logits = torch.full((1, len(VOC_CLASSES), *mask.shape[-2:]), -30.0)
    logits[:, 0] = 0  # background
    logits[:, PERSON] = torch.logit(mask[:, 0].clamp(1e-5, 1 - 1e-5))
    if other is not None and other_mask is not None:
        logits[:, other] = torch.logit(other_mask[:, 0].clamp(1e-5, 1 - 1e-5))
    return logits


# ---------------------------------------------------------------------------------------------------
# The three torchvision models, end to end


@pytest.mark.parametrize("name", SEGMENTATION_MODELS)
def test_model_runs_end_to_end(name: str, tmp_path: Path) -> None:
    weights = _random_weights(name, tmp_path / f"{name}.pth")
    session = create_session(ModelConfig(name=name, weights=weights, device="cpu"))
    assert isinstance(session, MattingSession)
    assert session.name == name and session.dtype == torch.float32 and session.device == CPU
    assert name in registry.names()

    torch.manual_seed(1)
    matte = session(torch.rand(1, 3, 64, 96))
    assert matte.alpha.shape == (1, 1, 64, 96)
    assert matte.alpha.dtype == torch.float32
    assert 0 <= matte.alpha.min().item() <= matte.alpha.max().item() <= 1
    assert matte.foreground is None
    if name != "fcn-resnet50":  # the ResNet-50 is slow on a CPU; one frame is enough for it
        session.reset()
        matte = session(torch.rand(1, 3, 48, 40))  # another size: the state restarts by itself
        assert matte.alpha.shape == (1, 1, 48, 40)


def test_alpha_is_the_person_probability_at_frame_size(tmp_path: Path) -> None:
    """Without smoothing and refinement the alpha is exactly softmax(logits)[person], upsampled."""
    name = "lraspp-mobilenetv3"
    config = ModelConfig(
        name=name,
        weights=_random_weights(name, tmp_path / "w.pth"),
        device="cpu",
        downsample_ratio=0.5,
        smoothing=False,
        refine_edges=False,
    )
    session = create_session(config)
    assert isinstance(session, SegmentationSession)
    with torch.no_grad():  # random heads give a nearly flat 1/21; stronger ones give a map with detail
        for layer in session.network.modules():
            if isinstance(layer, nn.Conv2d) and layer.out_channels == len(VOC_CLASSES):
                layer.weight.mul_(300)
    torch.manual_seed(2)
    frame = torch.rand(1, 3, 64, 96)
    alpha = session(frame).alpha

    with torch.inference_mode():
        small = F.interpolate(frame, (32, 48), mode="bilinear", antialias=True)
        logits = session.network(small)
    expected = F.interpolate(logits.softmax(1)[:, PERSON : PERSON + 1], (64, 96), mode="bilinear")
    assert torch.allclose(alpha, expected, atol=1e-5)
    assert alpha.std().item() > 1e-3  # a varied map, so the comparison has teeth


def test_auto_ratio_brings_the_longer_side_near_520(tmp_path: Path) -> None:
    name = "lraspp-mobilenetv3"
    session = create_session(ModelConfig(name=name, weights=_random_weights(name, tmp_path / "w.pth")))
    assert session.current_ratio(720, 1280) == pytest.approx(520 / 1280)
    assert session.current_ratio(200, 300) == 1.0
    fixed = create_session(
        ModelConfig(name=name, weights=tmp_path / "w.pth", device="cpu", downsample_ratio=0.25)
    )
    assert fixed.current_ratio(720, 1280) == 0.25


# ---------------------------------------------------------------------------------------------------
# Kept classes


def test_keep_classes_adds_the_pet() -> None:
    """A person on the left, a dog on the right: the dog is in the alpha only when kept."""
    _, xx = _grid(32, 48)
    left = (xx < 24).float()[None, None]

    def logits(height: int, width: int) -> Tensor:
        return _person_logits(left, DOG, 1 - left)

    def alpha(classes: tuple[str, ...]) -> Tensor:
        session = SegmentationSession(
            _Logits(logits),
            CPU,
            keep_classes=classes,
            smoothing=False,
            refine_edges=False,
        )
        return session(torch.rand(1, 3, 32, 48)).alpha

    person_only, with_dog = alpha(("person",)), alpha(("person", "dog"))
    assert person_only[..., :20].mean().item() > 0.99 and person_only[..., 28:].mean().item() < 0.01
    assert with_dog.min().item() > 0.99


def test_keep_classes_on_a_real_network_adds_probability(tmp_path: Path) -> None:
    name = "lraspp-mobilenetv3"
    weights = _random_weights(name, tmp_path / "w.pth")
    frame = torch.rand(1, 3, 40, 56)
    alphas = [
        create_session(
            ModelConfig(name=name, weights=weights, device="cpu", keep_classes=classes, smoothing=False)
        )(frame).alpha
        for classes in [("person",), ("person", "dog", "cat")]
    ]
    # The dog's and cat's probabilities come on top of the person's.
    assert (alphas[1] - alphas[0]).min().item() > 1e-3


def test_unknown_class_is_a_usage_error_before_any_weights() -> None:
    config = ModelConfig(name="lraspp-mobilenetv3", keep_classes=("person", "unicorn"), offline=True)
    with pytest.raises(UsageError, match="'unicorn'") as info:
        create_session(config)
    assert "person" in str(info.value) and "tvmonitor" in str(info.value)
    assert class_indices(["Person", " dog"]) == (PERSON, DOG)
    with pytest.raises(UsageError, match="empty"):
        class_indices([])


# ---------------------------------------------------------------------------------------------------
# Weights


def test_offline_without_cache_names_the_cache_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LIVEBG_OFFLINE", "1")
    monkeypatch.delenv("LIVEBG_WEIGHTS_URL")
    with pytest.raises(WeightsError) as info:
        create_session(ModelConfig(name="deeplabv3-mobilenetv3", device="cpu"))
    cached = tmp_path / "cache" / "weights" / "deeplabv3_mobilenet_v3_large-fc3c493d.pth"
    message = str(info.value)
    assert str(cached) in message and "--weights" in message
    assert "https://download.pytorch.org/models/deeplabv3_mobilenet_v3_large-fc3c493d.pth" in message


def test_cached_weights_load_without_network(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    name = "lraspp-mobilenetv3"
    spec = registry.get(name)
    cached = weights_module.cache_dir() / spec.weights.filename
    assert cached.parent == tmp_path / "cache" / "weights"  # livebg's cache, not torch hub's
    cached.parent.mkdir(parents=True)
    _random_weights(name, cached)
    # The file is checked against the published checksum prefix: give the test's own file's.
    prefix = hashlib.sha256(cached.read_bytes()).hexdigest()[:8]
    own = dataclasses.replace(spec, weights=dataclasses.replace(spec.weights, sha256=prefix))
    monkeypatch.setitem(registry._REGISTRY, name, own)
    monkeypatch.setenv("LIVEBG_OFFLINE", "1")
    session = create_session(ModelConfig(name=name, device="cpu"))
    assert session(torch.rand(1, 3, 32, 32)).alpha.shape == (1, 1, 32, 32)


def test_damaged_cache_file_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    cached = weights_module.cache_dir() / registry.get("fcn-resnet50").weights.filename
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"half a download")
    monkeypatch.setenv("LIVEBG_OFFLINE", "1")
    with pytest.raises(WeightsError, match=r"damaged or another version.*delete it") as info:
        create_session(ModelConfig(name="fcn-resnet50", device="cpu"))
    assert str(cached) in str(info.value)
    with pytest.raises(UsageError, match="unknown segmentation model"):
        load_segmentation("fcn-resnet101")


def test_failed_download_names_url_and_cache_path(_no_downloads: Path, tmp_path: Path) -> None:
    with pytest.raises(WeightsError, match="could not download") as info:
        create_session(ModelConfig(name="lraspp-mobilenetv3", device="cpu"))
    message = str(info.value)
    assert f"{_no_downloads.as_uri()}/lraspp_mobilenet_v3_large-d234d4ea.pth" in message
    assert str(tmp_path / "cache" / "weights" / "lraspp_mobilenet_v3_large-d234d4ea.pth") in message
    assert list((tmp_path / "cache" / "weights").iterdir()) == []  # no partial file


def test_weights_of_another_layout_are_refused(tmp_path: Path) -> None:
    wrong = _random_weights("lraspp-mobilenetv3", tmp_path / "lraspp.pth")
    with pytest.raises(WeightsError, match="does not match the deeplabv3-mobilenetv3 layout") as info:
        create_session(ModelConfig(name="deeplabv3-mobilenetv3", weights=wrong, device="cpu"))
    assert str(wrong) in str(info.value)

    text = tmp_path / "notes.pth"
    text.write_text("not a checkpoint")
    with pytest.raises(WeightsError, match="is not a PyTorch checkpoint"):
        create_session(ModelConfig(name="lraspp-mobilenetv3", weights=text, device="cpu"))
    with pytest.raises(InputNotFoundError, match="does not exist"):
        create_session(ModelConfig(name="lraspp-mobilenetv3", weights=tmp_path / "missing.pth"))


def test_checkpoint_without_the_auxiliary_head_loads(tmp_path: Path) -> None:
    path = tmp_path / "no_aux.pth"
    torch.save(build_segmentation("deeplabv3_mobilenet_v3_large", aux_loss=False).state_dict(), path)
    session = create_session(ModelConfig(name="deeplabv3-mobilenetv3", weights=path, device="cpu"))
    assert session(torch.rand(1, 3, 32, 32)).alpha.shape == (1, 1, 32, 32)


def test_exported_backends_are_refused_for_segmentation(tmp_path: Path) -> None:
    config = ModelConfig(name="lraspp-mobilenetv3", backend="onnxruntime", device="cpu")
    with pytest.raises(UsageError, match="--backend torch"):
        create_session(config)


# ---------------------------------------------------------------------------------------------------
# Temporal smoothing


def _noisy_disc(
    cx: float, cy: float, generator: torch.Generator, height: int = 96, width: int = 128
) -> Tensor:
    """A disc mask as a flickering network would give it: the edge jitters by up to 2 px, blotches
    of wrong probability come and go, and every pixel is noisy."""
    yy, xx = _grid(height, width)
    radius = 24 + 2 * (2 * torch.rand(1, generator=generator).item() - 1)
    disc = (((xx - cx) ** 2 + (yy - cy) ** 2) <= radius**2).float()[None, None]
    blotches = F.interpolate(
        0.2 * torch.randn(1, 1, 6, 8, generator=generator), (height, width), mode="bilinear"
    )
    return (disc + blotches + 0.1 * torch.randn(1, 1, height, width, generator=generator)).clamp(0, 1)


def test_smoothing_halves_flicker_on_a_static_scene() -> None:
    generator = torch.Generator().manual_seed(0)
    raw = [_noisy_disc(50, 48, generator) for _ in range(30)]
    smoother = TemporalSmoother()
    smoothed = [smoother(mask) for mask in raw]
    before, after = _flicker(raw[5:]), _flicker(smoothed[5:])
    # Measured: 0.113 -> 0.029 (a quarter).
    assert after < 0.5 * before, (before, after)


def test_smoothing_follows_fast_motion() -> None:
    """The disc jumps 45 px: within 3 frames the new place is filled and the old one cleared."""
    generator = torch.Generator().manual_seed(0)
    smoother = TemporalSmoother()
    for _ in range(10):
        smoother(_noisy_disc(40, 48, generator))
    for frame in range(3):  # noqa: B007 (read after the loop)
        out = smoother(_noisy_disc(85, 48, generator))
        new_place, old_place = out[0, 0, 40:57, 77:94].mean().item(), out[0, 0, 40:57, 22:39].mean().item()
        if new_place > 0.85 and old_place < 0.15:
            break
    else:
        pytest.fail(f"not followed after 3 frames: new place {new_place:.2f}, old place {old_place:.2f}")
    assert frame <= 2


def test_smoothing_trails_a_steadily_moving_edge_by_a_few_pixels() -> None:
    yy, xx = _grid(96, 128)
    smoother = TemporalSmoother()
    x = 30.0
    for _ in range(15):  # 4 px per frame
        mask = torch.sigmoid(20 - ((xx - x) ** 2 + (yy - 48) ** 2).sqrt())[None, None]
        out = smoother(mask)
        x += 4
    centre = ((out[0, 0] * xx).sum() / out[0, 0].sum()).item()
    assert 0 < (x - 4) - centre < 4  # measured 3.1 px behind; an unadaptive EMA(0.2) trails 16 px


def test_smoother_reset_and_resolution_change() -> None:
    smoother = TemporalSmoother()
    first, second = torch.zeros(1, 1, 16, 16), torch.full((1, 1, 16, 16), 0.05)
    smoother(first)
    assert torch.allclose(smoother(second), torch.full_like(second, 0.01))  # 0.2 of the small change
    smoother.reset()
    assert torch.equal(smoother(second), second)
    # A new network resolution keeps the history, resampled.
    assert smoother(torch.full((1, 1, 8, 8), 0.05)).shape == (1, 1, 8, 8)


def test_session_smoothing_and_size_change_reset() -> None:
    generator = torch.Generator().manual_seed(3)
    masks = [_noisy_disc(64, 48, generator) for _ in range(12)]
    feed = iter(masks * 2)

    def logits(height: int, width: int) -> Tensor:
        return _person_logits(next(feed))

    frame = torch.rand(1, 3, 96, 128)
    smooth = SegmentationSession(_Logits(logits), CPU, refine_edges=False)
    smoothed = [smooth(frame).alpha for _ in range(12)]
    plain = SegmentationSession(_Logits(logits), CPU, smoothing=False, refine_edges=False)
    unsmoothed = [plain(frame).alpha for _ in range(12)]
    assert _flicker(smoothed[3:]) < 0.5 * _flicker(unsmoothed[3:])


def test_session_restarts_smoothing_on_a_new_frame_size() -> None:
    """Two frames apart by a small change: smoothed on the same size, taken as it is on a new size."""
    levels = iter([0.3, 0.45, 0.3, 0.45])

    def logits(height: int, width: int) -> Tensor:
        return _person_logits(torch.full((1, 1, height, width), next(levels)))

    def raw(level: float, height: int, width: int) -> Tensor:
        return torch.softmax(_person_logits(torch.full((1, 1, height, width), level)), 1)[
            :, PERSON : PERSON + 1
        ]

    session = SegmentationSession(_Logits(logits), CPU, refine_edges=False)
    session(torch.rand(1, 3, 32, 48))
    same_size = session(torch.rand(1, 3, 32, 48)).alpha
    assert (same_size - raw(0.45, 32, 48)).abs().min().item() > 0.05
    session(torch.rand(1, 3, 32, 48))
    new_size = session(torch.rand(1, 3, 40, 48)).alpha
    assert torch.allclose(new_size, raw(0.45, 40, 48), atol=1e-4)


# ---------------------------------------------------------------------------------------------------
# Edge refinement


def _edge_errors(alpha: Tensor, truth: Tensor) -> tuple[float, float]:
    """Mean absolute error over the whole image and over the band within 4 px of the true edge."""
    inside = F.max_pool2d(truth, 9, 1, 4)
    outside = F.max_pool2d(1 - truth, 9, 1, 4)
    band = (inside + outside) > 1
    error = (alpha - truth).abs()
    return error.mean().item(), error[band].mean().item()


def test_guided_filter_keeps_an_image_when_it_guides_itself() -> None:
    image = torch.rand(1, 1, 40, 50, generator=torch.Generator().manual_seed(0))
    assert (fast_guided_filter(image, image, image, 2, 1e-6) - image).abs().max().item() < 1e-3
    x = torch.rand(2, 3, 30, 40)
    expected = F.avg_pool2d(x, 7, 1, 3, count_include_pad=False)
    assert torch.allclose(box_mean(x, 3), expected, atol=1e-5)


def test_refinement_moves_coarse_edges_onto_the_image_edges() -> None:
    """A star, sharp in the image, seen by a network with an output stride of 8: the guided filter
    brings the mask's edge onto the star's."""
    height, width = 192, 256
    truth = _star(height, width)
    generator = torch.Generator().manual_seed(0)
    image = (
        0.3
        + 0.4 * truth.expand(1, 3, height, width)
        + 0.05 * torch.randn(1, 3, height, width, generator=generator)
    ).clamp(0, 1)

    def logits(h: int, w: int) -> Tensor:
        coarse = F.interpolate(F.interpolate(truth, (h // 8, w // 8), mode="area"), (h, w), mode="bilinear")
        return _person_logits(coarse)

    def alpha(refine: bool) -> Tensor:
        session = SegmentationSession(
            _Logits(logits),
            CPU,
            downsample_ratio=0.5,
            smoothing=False,
            refine_edges=refine,
        )
        return session(image).alpha

    coarse_all, coarse_band = _edge_errors(alpha(False), truth)
    refined_all, refined_band = _edge_errors(alpha(True), truth)
    # Measured: band 0.377 -> 0.260, whole image 0.0682 -> 0.0654.
    assert refined_band < 0.75 * coarse_band, (coarse_band, refined_band)
    assert refined_all < coarse_all

    # Cut at 0.5, the refined edge lies on the star's: measured 840 -> 25 pixels on the wrong side.
    wrong_coarse = ((alpha(False) > 0.5) != (truth > 0.5)).sum().item()
    wrong_refined = ((alpha(True) > 0.5) != (truth > 0.5)).sum().item()
    assert wrong_refined < 0.5 * wrong_coarse, (wrong_coarse, wrong_refined)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("name", SEGMENTATION_MODELS)
def test_half_precision_on_the_gpu_agrees_with_the_cpu(name: str, tmp_path: Path) -> None:
    weights = _random_weights(name, tmp_path / "w.pth")
    gpu = create_session(ModelConfig(name=name, weights=weights, device="cuda", precision="fp16"))
    cpu = create_session(ModelConfig(name=name, weights=weights, device="cpu"))
    for session in (gpu, cpu):  # stronger heads than random ones, as in the exact-probability test
        with torch.no_grad():
            for layer in session.network.modules():
                if isinstance(layer, nn.Conv2d) and layer.out_channels == len(VOC_CLASSES):
                    layer.weight.mul_(300)
    torch.manual_seed(4)
    frames = [torch.rand(1, 3, 360, 640) for _ in range(3)]
    for frame in frames:
        on_gpu = gpu(frame.to("cuda", torch.float16)).alpha
        on_cpu = cpu(frame).alpha
        assert on_gpu.device.type == "cuda" and on_gpu.dtype == torch.float16
        assert on_gpu.shape == (1, 1, 360, 640)
        assert (on_gpu.float().cpu() - on_cpu).abs().max().item() < 0.02


class _Brightness(nn.Module):
    """Stands in for a network: a pixel is a person where it is bright."""

    def forward(self, src: Tensor) -> Tensor:
        logits = torch.zeros(src.shape[0], len(VOC_CLASSES), *src.shape[-2:])
        logits[:, VOC_CLASSES.index("person")] = 12 * (src.mean(dim=1) - 0.5)
        return logits


def test_a_batch_is_consecutive_frames_smoothed_in_order() -> None:
    # A square that flickers: smoothing damps the flicker with the frames before it.
    frames = []
    for brightness in (0.6, 0.7, 0.6, 0.7):
        frame = torch.zeros(1, 3, 64, 96)
        frame[..., 16:48, 24:72] = brightness
        frames.append(frame)
    one_by_one = SegmentationSession(_Brightness(), CPU, downsample_ratio=0.5)
    expected = torch.cat([one_by_one(f).alpha for f in frames])
    batched = SegmentationSession(_Brightness(), CPU, downsample_ratio=0.5)
    alpha = batched(torch.cat(frames)).alpha
    assert alpha.shape == (4, 1, 64, 96)
    assert torch.allclose(alpha, expected, atol=1e-5)
    # The history matters: the last frame alone gives another matte.
    alone = SegmentationSession(_Brightness(), CPU, downsample_ratio=0.5)(frames[3]).alpha
    assert (alone - alpha[3]).abs().max() > 0.05  # measured 0.10


# ---------------------------------------------------------------------------------------------------
# Forks: other streams of the same model


def _smoothed_session(tmp_path: Path) -> SegmentationSession:
    name = "lraspp-mobilenetv3"
    session = create_session(ModelConfig(name=name, weights=_random_weights(name, tmp_path / "w.pth")))
    assert isinstance(session, SegmentationSession) and session.smoother is not None
    with torch.no_grad():  # random heads give a nearly flat 1/21; stronger ones give a map with detail
        for layer in session.network.modules():
            if isinstance(layer, nn.Conv2d) and layer.out_channels == len(VOC_CLASSES):
                layer.weight.mul_(300)
    return session


def test_a_fork_shares_the_network_and_starts_its_own_smoothing(tmp_path: Path) -> None:
    session = _smoothed_session(tmp_path)
    generator = torch.Generator().manual_seed(4)
    frames = [torch.rand(1, 3, 40, 56, generator=generator) for _ in range(4)]
    for frame in frames:
        session(frame)  # a history the fork must not inherit
    fork = session.fork()
    assert fork.network is session.network and fork.classes == session.classes
    assert fork.smoother is not session.smoother and fork.input_size == session.input_size == 520
    fresh = SegmentationSession(session.network, CPU, keep_classes=["person"])
    for index, frame in enumerate(frames):
        assert torch.equal(fork(frame).alpha, fresh(frame).alpha), f"frame {index}"


def test_two_forks_interleaved_keep_their_own_smoothing(tmp_path: Path) -> None:
    session = _smoothed_session(tmp_path)
    generator = torch.Generator().manual_seed(5)
    frames = [torch.rand(1, 3, 40, 56, generator=generator) for _ in range(4)]
    other = [frame.flip(-1) for frame in frames]
    alone_one = [m.alpha for m in map(session.fork(), frames)]
    alone_two = [m.alpha for m in map(session.fork(), other)]
    one, two = session.fork(), session.fork()
    for index, (a, b) in enumerate(zip(frames, other, strict=True)):
        assert torch.equal(one(a).alpha, alone_one[index]), f"frame {index}"
        assert torch.equal(two(b).alpha, alone_two[index]), f"frame {index}"
    # The smoothing carries history, so a leak between the streams would have shown.
    assert (alone_one[1] - session.fork()(frames[1]).alpha).abs().max() > 1e-3
