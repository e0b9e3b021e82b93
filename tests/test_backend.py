"""Choosing the runtime and precision of a model: the one place that checks they go together."""

from __future__ import annotations

import sys

import pytest
import torch

from livebg.config import ModelConfig
from livebg.errors import MissingDependencyError, UsageError
from livebg.matting import registry
from livebg.matting.backend import Runtime, choose_backend, resolve

CPU = torch.device("cpu")


def _hide(monkeypatch: pytest.MonkeyPatch, *packages: str) -> None:
    """Make ``import package`` fail as it does where the package is not installed."""
    for package in packages:
        monkeypatch.setitem(sys.modules, package, None)


def test_every_offered_backend_and_precision_is_understood() -> None:
    for backend in ("auto", *registry.RUNTIMES):
        if backend in ("onnxruntime", "openvino"):
            pytest.importorskip(backend)
        assert choose_backend(backend, CPU) in registry.RUNTIMES
    for precision in ("auto", "fp32"):
        assert resolve(ModelConfig(precision=precision), CPU).dtype == torch.float32
    assert registry.PRECISIONS == ("fp32", "fp16", "bf16")


def test_auto_prefers_openvino_then_onnxruntime_then_torch_on_the_cpu(monkeypatch) -> None:
    pytest.importorskip("openvino")
    pytest.importorskip("onnxruntime")
    assert choose_backend("auto", CPU) == "openvino"
    _hide(monkeypatch, "openvino")
    assert choose_backend("auto", CPU) == "onnxruntime"
    _hide(monkeypatch, "onnxruntime")
    assert choose_backend("auto", CPU) == "torch"


@pytest.mark.parametrize("device", ["cuda", "mps"])
def test_auto_takes_torch_on_a_gpu(device: str) -> None:
    assert choose_backend("auto", torch.device(device)) == "torch"
    runtime = resolve(ModelConfig(), torch.device(device))
    assert runtime.backend == "torch"
    assert runtime.dtype == (torch.float16 if device == "cuda" else torch.float32)


@pytest.mark.parametrize(("backend", "extra"), [("openvino", "openvino"), ("onnxruntime", "onnx")])
def test_a_missing_runtime_names_the_pip_command(monkeypatch, backend: str, extra: str) -> None:
    _hide(monkeypatch, backend)
    with pytest.raises(MissingDependencyError, match=rf'pip install "livebg\[{extra}\]"') as caught:
        choose_backend(backend, CPU)
    assert isinstance(caught.value, ImportError)
    assert choose_backend("torch", CPU) == "torch"


def test_cpu_runtimes_on_a_gpu_and_unknown_names_are_usage_errors() -> None:
    with pytest.raises(UsageError, match="--backend openvino runs on the CPU only"):
        choose_backend("openvino", torch.device("cuda"))
    with pytest.raises(UsageError, match="unknown backend 'tensorrt'"):
        choose_backend("tensorrt", CPU)
    with pytest.raises(UsageError, match="unknown precision 'int8'"):
        resolve(ModelConfig(precision="int8"), CPU)
    with pytest.raises(UsageError, match="unknown model 'u2net'"):
        resolve(ModelConfig(name="u2net"), CPU)


def test_fp16_is_refused_for_exported_sessions() -> None:
    pytest.importorskip("onnxruntime")
    with pytest.raises(UsageError, match="--precision fp16") as caught:
        resolve(ModelConfig(backend="onnxruntime", precision="fp16"), CPU)
    assert "--backend torch for fp16" in str(caught.value)


def test_bf16_is_offered_by_openvino_only() -> None:
    pytest.importorskip("onnxruntime")
    with pytest.raises(UsageError, match="--backend openvino for bf16"):
        resolve(ModelConfig(backend="onnxruntime", precision="bf16"), CPU)
    with pytest.raises(UsageError, match="--precision bf16 is offered by --backend openvino"):
        resolve(ModelConfig(backend="torch", precision="bf16"), CPU)
    with pytest.raises(UsageError, match="--precision bf16 is not offered for lraspp-mobilenetv3"):
        resolve(ModelConfig(name="lraspp-mobilenetv3", precision="bf16"), CPU)


def test_each_precision_resolves_to_the_runtime_that_offers_it(monkeypatch) -> None:
    pytest.importorskip("openvino")
    assert resolve(ModelConfig(backend="openvino", precision="bf16"), CPU) == Runtime(
        "openvino", "bf16", torch.float32
    )
    assert resolve(ModelConfig(backend="torch", precision="fp16"), CPU) == Runtime(
        "torch", "fp16", torch.float16
    )
    # auto picks the fastest runtime that offers the precision asked for.
    assert resolve(ModelConfig(precision="bf16"), CPU).backend == "openvino"
    assert resolve(ModelConfig(precision="fp16"), CPU).backend == "torch"
    _hide(monkeypatch, "openvino")
    with pytest.raises(UsageError, match="--precision bf16 is offered by --backend openvino"):
        resolve(ModelConfig(precision="bf16"), CPU)


def test_segmentation_models_run_in_torch_only() -> None:
    for name in registry.names("segmentation"):
        assert resolve(ModelConfig(name=name), CPU).backend == "torch"
        with pytest.raises(UsageError, match="--backend torch") as caught:
            resolve(ModelConfig(name=name, backend="onnxruntime"), CPU)
        assert "runs rvm-mobilenetv3 and rvm-resnet50 only" in str(caught.value)
