"""Shared fixtures. Real footage and checkpoints come from ``$LIVEBG_TEST_DATA`` (the workplace's
``shared/`` folder, set by ``.ci/run``); tests that need them skip where it is absent."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from .fakes import SentFrames


def _shared_dir() -> Path | None:
    value = os.environ.get("LIVEBG_TEST_DATA")
    if value:
        path = Path(value).resolve()  # tests also run subprocesses in other folders
        return path if path.is_dir() else None
    return None


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The shared test material folder (with ``data/`` and ``models/``), or skip."""
    path = _shared_dir()
    if path is None:
        pytest.skip("real test data not available (set LIVEBG_TEST_DATA to the shared/ folder)")
    return path


@pytest.fixture(scope="session")
def data_dir(shared_dir: Path) -> Path:
    return shared_dir / "data"


@pytest.fixture(scope="session")
def rvm_checkpoint(shared_dir: Path) -> Path:
    """The RVM MobileNetV3 checkpoint (official key layout, fast guided filter)."""
    path = shared_dir / "models" / "rvm_mobilenetv3_tfjs.pth"
    if not path.is_file():
        pytest.skip(f"{path} not present")
    return path


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Never touch the user's weights caches (ours and torch hub's) from a test."""
    monkeypatch.setenv("LIVEBG_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "livebg-cache"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path_factory.getbasetemp() / "torch-home"))


@pytest.fixture()
def tmpfs(tmp_path: Path) -> Iterator[Callable[..., Path]]:
    """Mounts a small tmpfs: ``tmpfs(size="200k", read_only=False)`` returns its folder (a new one per
    call), unmounted after the test. Skips where mounting is not permitted (not root, no CAP_SYS_ADMIN)."""
    mounted: list[Path] = []

    def mount(size: str = "200k", *, read_only: bool = False) -> Path:
        folder = tmp_path / f"tmpfs{len(mounted)}"
        folder.mkdir()
        if shutil.which("mount") is None:
            pytest.skip("no mount command here")
        options = f"size={size}" + (",ro" if read_only else "")
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], capture_output=True, text=True
        )
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip() or 'mount failed'})")
        mounted.append(folder)
        return folder

    yield mount
    for folder in reversed(mounted):
        subprocess.run(["umount", str(folder)], check=False)


@pytest.fixture()
def vcam() -> Iterator[SentFrames]:
    """A pyvirtualcam backend registered as ``fakes.VCAM_BACKEND`` that records every frame sent to it."""
    import pyvirtualcam

    from .fakes import VCAM_BACKEND, SentFrames

    sent = SentFrames()
    sent.register(VCAM_BACKEND)
    yield sent
    pyvirtualcam.camera.BACKENDS.pop(VCAM_BACKEND, None)
