"""Building a session from a ModelConfig: the registry's kind and the resolved runtime decide which."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from livebg.config import ModelConfig
from livebg.errors import UsageError
from livebg.matting.factory import create_session
from livebg.matting.rvm_session import RVMSession


def test_factory_builds_the_chosen_backend(rvm_checkpoint: Path) -> None:
    pytest.importorskip("openvino")
    session = create_session(ModelConfig(weights=rvm_checkpoint, device="cpu", backend="auto"))
    assert session.backend == "openvino"
    session = create_session(ModelConfig(weights=rvm_checkpoint, device="cpu", backend="torch"))
    assert isinstance(session, RVMSession)


def test_a_bad_combination_fails_before_any_weights_are_read(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.pth"  # would be an InputNotFoundError if it were looked at
    with pytest.raises(UsageError, match="--precision bf16"):
        create_session(ModelConfig(weights=missing, device="cpu", backend="torch", precision="bf16"))
    with pytest.raises(UsageError, match=r"downsample ratio 1\.5 is outside"):
        create_session(ModelConfig(weights=missing, device="cpu", downsample_ratio=1.5))


@pytest.mark.parametrize("backend", ["openvino", "onnxruntime"])
def test_the_configs_threads_reach_the_runtime_and_pytorch(rvm_checkpoint: Path, backend: str) -> None:
    import torch

    pytest.importorskip(backend)
    before = torch.get_num_threads()
    try:
        session = create_session(
            ModelConfig(weights=rvm_checkpoint, device="cpu", backend=backend, threads=1)
        )
        assert session.threads == 1  # type: ignore[attr-defined]
        assert torch.get_num_threads() == 1  # compositing runs in PyTorch whatever runs the network
    finally:
        torch.set_num_threads(before)


def test_an_rvm_session_loads_without_torchvision(rvm_checkpoint: Path) -> None:
    # torchvision's models import torch._dynamo: seconds of start-up that RVM does not need.
    code = (
        "import sys\n"
        "from livebg.config import ModelConfig\n"
        "from livebg.matting.factory import create_session\n"
        f"create_session(ModelConfig(weights={str(rvm_checkpoint)!r}, backend='torch', device='cpu'))\n"
        "print(sorted(m for m in ('torchvision', 'torch._dynamo') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
