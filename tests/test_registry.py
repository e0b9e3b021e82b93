"""The model registry: one entry per name, the official weights of each, and what runs it."""

from __future__ import annotations

import pytest

from livebg.errors import UsageError
from livebg.matting import registry
from livebg.matting.registry import ModelSpec

from .fakes import tiny_spec

RVM_RELEASE = "https://github.com/PeterL1n/RobustVideoMatting/releases/download/v1.0.0"


@pytest.fixture
def private_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """A private copy of the registry, so test entries do not leak into other tests."""
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))


def test_every_model_is_listed_once_by_kind() -> None:
    assert registry.names() == (
        "rvm-mobilenetv3",
        "rvm-resnet50",
        "fcn-resnet50",
        "deeplabv3-mobilenetv3",
        "lraspp-mobilenetv3",
    )
    assert registry.names("rvm") == ("rvm-mobilenetv3", "rvm-resnet50")
    assert [s.name for s in registry.specs()] == list(registry.names())
    assert registry.DEFAULT_MODEL == "rvm-mobilenetv3"
    assert all(registry.get(name).name == name for name in registry.names())


def test_registering_a_name_twice_is_an_error(private_registry: None) -> None:
    spec = registry.register(tiny_spec())
    assert registry.get("tiny") is spec and registry.names()[-1] == "tiny"
    with pytest.raises(ValueError, match="already registered"):
        registry.register(tiny_spec(licence="another"))
    with pytest.raises(ValueError, match="already registered"):
        registry.register(tiny_spec(name="rvm-mobilenetv3"))
    assert registry.get("tiny") is spec


def test_unknown_name_lists_the_known_ones() -> None:
    with pytest.raises(UsageError, match=r"'nope'.*rvm-mobilenetv3, rvm-resnet50"):
        registry.get("nope")
    with pytest.raises(UsageError, match="unknown segmentation model 'rvm-resnet50'") as caught:
        registry.get("rvm-resnet50", kind="segmentation")
    assert "fcn-resnet50, deeplabv3-mobilenetv3, lraspp-mobilenetv3" in str(caught.value)
    assert "rvm-mobilenetv3" not in str(caught.value)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"filename": "../evil.pth"}, "plain file name"),
        ({"filename": "sub/x.pth"}, "plain file name"),
        ({"sha256": "ABC"}, "64 lowercase hex"),
        ({"sha256": "1167a1a"}, "prefix of at least 8"),
        ({"size": 0}, "positive"),
    ],
)
def test_bad_weights_specs_are_refused(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        tiny_spec(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kind": "detector"}, "kind of tiny"),
        ({"runtimes": {"tensorrt": ("fp16",)}}, "runtimes of tiny"),
        ({"runtimes": {}}, "runtimes of tiny"),
        ({"runtimes": {"torch": ("int8",)}}, "precisions of tiny on torch"),
    ],
)
def test_bad_model_specs_are_refused(kwargs: dict, message: str) -> None:
    fields = {
        "name": "tiny",
        "kind": "rvm",
        "architecture": "mobilenetv3",
        "description": "a tiny test checkpoint",
        "weights": tiny_spec().weights,
    }
    fields.update(kwargs)
    with pytest.raises(ValueError, match=message):
        ModelSpec(**fields)


def test_a_spec_cannot_be_changed_once_registered() -> None:
    spec = registry.get("rvm-mobilenetv3")
    with pytest.raises(TypeError):
        spec.runtimes["torch"] = ("fp32",)  # type: ignore[index]
    assert spec.runtimes == {
        "torch": ("fp32", "fp16"),
        "onnxruntime": ("fp32",),
        "openvino": ("fp32", "bf16"),
    }


def test_builtin_rvm_specs_point_at_the_official_release() -> None:
    from livebg.models.rvm import MattingNetwork, detect_variant

    mbv3, r50 = registry.get("rvm-mobilenetv3").weights, registry.get("rvm-resnet50").weights
    assert mbv3.url == f"{RVM_RELEASE}/rvm_mobilenetv3.pth"
    assert r50.url == f"{RVM_RELEASE}/rvm_resnet50.pth"
    for spec in (mbv3, r50):
        assert spec.url.endswith("/" + spec.filename)
        assert "GPL-3.0" in spec.licence
    for name in registry.names("rvm"):
        # The architecture builds a network whose checkpoint is recognised as that backbone.
        architecture = registry.get(name).architecture
        assert detect_variant(MattingNetwork(architecture).state_dict()) == architecture  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["fcn-resnet50", "deeplabv3-mobilenetv3", "lraspp-mobilenetv3"])
def test_torchvision_specs_are_torchvisions_own_weights(name: str) -> None:
    """The URL is the one in torchvision's weights enum, and the checksum the prefix torchvision
    publishes in the file name (and torch.hub checks)."""
    import torchvision

    from livebg.models.segmentation import VOC_CLASSES, build_segmentation

    spec = registry.get(name, kind="segmentation")
    official = torchvision.models.get_model_weights(spec.architecture).COCO_WITH_VOC_LABELS_V1
    assert spec.weights.url == official.url
    assert spec.weights.filename == official.url.rsplit("/", 1)[1]
    assert spec.weights.sha256 is not None and len(spec.weights.sha256) == 8
    assert spec.weights.filename.endswith(f"-{spec.weights.sha256}.pth")
    assert official.meta["categories"] == ["__background__", *VOC_CLASSES[1:]]
    assert spec.input_size == official.transforms().resize_size[0] == 520
    assert spec.runtimes == {"torch": ("fp32", "fp16")}
    # The official checkpoint's auxiliary head: the network builds with it exactly when the spec says.
    network = build_segmentation(spec.architecture, aux_loss=spec.aux_classifier)
    assert (getattr(network, "aux_classifier", None) is not None) == spec.aux_classifier
