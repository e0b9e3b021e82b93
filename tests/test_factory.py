"""Building a session from a ModelConfig: the registry's kind and the resolved runtime decide which."""

from __future__ import annotations

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
