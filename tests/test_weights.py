"""The weights cache and download, one path for RVM's and torchvision's weights, against a local HTTP
server on 127.0.0.1."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import re
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import platformdirs
import pytest
import torch
from tqdm import tqdm

from livebg import weights
from livebg.cli import main
from livebg.config import ModelConfig
from livebg.errors import InputNotFoundError, Interrupted, WeightsError
from livebg.matting import registry
from livebg.matting.exported import export
from livebg.matting.registry import ModelSpec

from .fakes import tiny_spec

LRASPP = "lraspp_mobilenet_v3_large-d234d4ea.pth"


@dataclass
class FileServer:
    """Serves ``files`` (path -> bytes); ``truncate`` paths announce the full length but send half."""

    base_url: str
    files: dict[str, bytes] = field(default_factory=dict)
    truncate: set[str] = field(default_factory=set)
    requests: list[str] = field(default_factory=list)


@pytest.fixture
def server() -> Iterator[FileServer]:
    state = FileServer(base_url="")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.requests.append(self.path)
            body = state.files.get(self.path)
            if body is None:
                self.send_error(404, "File not found")
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            # HTTP/1.0: the connection closes after the handler returns, so a short body is a cut download.
            self.wfile.write(body[: len(body) // 2] if self.path in state.truncate else body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.base_url = f"http://127.0.0.1:{httpd.server_address[1]}/mirror"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


@pytest.fixture
def checkpoint_bytes() -> bytes:
    buffer = io.BytesIO()
    torch.save({"conv.weight": torch.arange(24.0).reshape(2, 3, 2, 2), "conv.bias": torch.zeros(2)}, buffer)
    return buffer.getvalue()


@pytest.fixture
def models(monkeypatch: pytest.MonkeyPatch) -> dict[str, ModelSpec]:
    """A private copy of the model registry, so test entries do not leak into other tests."""
    copy = dict(registry._REGISTRY)
    monkeypatch.setattr(registry, "_REGISTRY", copy)
    return copy


@pytest.fixture
def mirror(
    server: FileServer,
    models: dict[str, ModelSpec],
    checkpoint_bytes: bytes,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> FileServer:
    """``tiny`` registered and served by the local mirror; an empty cache of its own."""
    monkeypatch.setenv("LIVEBG_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("LIVEBG_WEIGHTS_URL", server.base_url)
    monkeypatch.delenv("LIVEBG_OFFLINE", raising=False)
    server.files["/mirror/tiny.pth"] = checkpoint_bytes
    registry.register(tiny_spec())
    return server


def cache_files() -> list[str]:
    folder = weights.cache_dir()
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


# ---------------------------------------------------------------------------------------------------
# Cache folder and URLs


def test_cache_dir_comes_from_the_environment_or_the_user_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LIVEBG_CACHE_DIR", str(tmp_path / "here"))
    assert weights.cache_dir() == tmp_path / "here" / "weights"
    assert export.exported_dir() == tmp_path / "here" / "exported"
    assert not (tmp_path / "here").exists()  # created only by a download
    monkeypatch.delenv("LIVEBG_CACHE_DIR")
    assert weights.cache_dir() == Path(platformdirs.user_cache_dir("livebg")) / "weights"


def test_mirror_url_replaces_the_official_one(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = registry.get("rvm-resnet50").weights
    torchvision = registry.get("lraspp-mobilenetv3").weights
    monkeypatch.delenv("LIVEBG_WEIGHTS_URL", raising=False)
    assert weights.weights_url(spec) == spec.url
    assert weights.weights_url(torchvision) == f"https://download.pytorch.org/models/{LRASPP}"
    monkeypatch.setenv("LIVEBG_WEIGHTS_URL", "https://mirror.example.com/livebg/")
    assert weights.weights_url(spec) == "https://mirror.example.com/livebg/rvm_resnet50.pth"
    assert weights.weights_url(torchvision) == f"https://mirror.example.com/livebg/{LRASPP}"


# ---------------------------------------------------------------------------------------------------
# Download


def test_download_lands_in_the_cache_once(mirror: FileServer, checkpoint_bytes: bytes) -> None:
    path = weights.resolve_weights("tiny", progress=False)
    assert path == weights.cache_dir() / "tiny.pth"
    assert path.read_bytes() == checkpoint_bytes
    assert cache_files() == ["tiny.pth"]  # no .part left
    assert mirror.requests == ["/mirror/tiny.pth"]

    assert weights.resolve_weights("tiny", progress=False) == path
    assert weights.resolve_weights("tiny", offline=True) == path
    assert len(mirror.requests) == 1


def test_download_shows_a_byte_progress_bar(
    mirror: FileServer, checkpoint_bytes: bytes, capsys: pytest.CaptureFixture[str]
) -> None:
    weights.resolve_weights("tiny", progress=True)
    err = capsys.readouterr().err
    size = tqdm.format_sizeof(len(checkpoint_bytes), divisor=1024)  # e.g. 1.91k
    assert "tiny.pth: 100%" in err
    assert f"| {size}/{size} [" in err  # bytes done / total
    assert "B/s]" in err


def test_published_checksum_and_size_are_accepted(
    mirror: FileServer, models: dict[str, ModelSpec], checkpoint_bytes: bytes
) -> None:
    models["tiny"] = tiny_spec(
        sha256=hashlib.sha256(checkpoint_bytes).hexdigest(), size=len(checkpoint_bytes)
    )
    assert weights.resolve_weights("tiny", progress=False).read_bytes() == checkpoint_bytes


def test_checksum_mismatch_leaves_nothing_in_the_cache(
    mirror: FileServer, models: dict[str, ModelSpec]
) -> None:
    wrong = hashlib.sha256(b"something else").hexdigest()
    models["tiny"] = tiny_spec(sha256=wrong)
    with pytest.raises(WeightsError, match=f"expected {wrong}") as info:
        weights.resolve_weights("tiny", progress=False)
    assert str(weights.cache_dir() / "tiny.pth") in str(info.value)
    assert cache_files() == []


def test_size_mismatch_leaves_nothing_in_the_cache(
    mirror: FileServer, models: dict[str, ModelSpec], checkpoint_bytes: bytes
) -> None:
    models["tiny"] = tiny_spec(size=len(checkpoint_bytes) + 1)
    with pytest.raises(WeightsError, match=f"expected {len(checkpoint_bytes) + 1}"):
        weights.resolve_weights("tiny", progress=False)
    assert cache_files() == []


def test_without_checksum_a_file_that_is_no_state_dict_is_refused(mirror: FileServer) -> None:
    mirror.files["/mirror/tiny.pth"] = b"<html>a login page, not weights</html>"
    with pytest.raises(WeightsError, match="not a PyTorch checkpoint"):
        weights.resolve_weights("tiny", progress=False)
    assert cache_files() == []

    buffer = io.BytesIO()
    torch.save([torch.zeros(2)], buffer)  # loads, but is a list
    mirror.files["/mirror/tiny.pth"] = buffer.getvalue()
    with pytest.raises(WeightsError, match="no state dict of tensors"):
        weights.resolve_weights("tiny", progress=False)
    assert cache_files() == []


def test_http_404_names_the_url_and_the_cache_path(mirror: FileServer) -> None:
    del mirror.files["/mirror/tiny.pth"]
    with pytest.raises(WeightsError) as info:
        weights.resolve_weights("tiny", progress=False)
    message = str(info.value)
    assert f"{mirror.base_url}/tiny.pth" in message
    assert "HTTP 404" in message
    assert str(weights.cache_dir() / "tiny.pth") in message
    assert "--weights PATH" in message
    assert cache_files() == []


def test_connection_refused_names_the_url_and_the_cache_path(
    mirror: FileServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("LIVEBG_WEIGHTS_URL", f"http://127.0.0.1:{port}")
    with pytest.raises(WeightsError, match="refused") as info:
        weights.resolve_weights("tiny", progress=False)
    assert f"http://127.0.0.1:{port}/tiny.pth" in str(info.value)
    assert str(weights.cache_dir() / "tiny.pth") in str(info.value)
    assert cache_files() == []


def test_cut_download_leaves_no_partial_file(mirror: FileServer, checkpoint_bytes: bytes) -> None:
    mirror.truncate.add("/mirror/tiny.pth")
    half, full = len(checkpoint_bytes) // 2, len(checkpoint_bytes)
    with pytest.raises(WeightsError, match=f"stopped after {half} of {full} bytes"):
        weights.resolve_weights("tiny", progress=False)
    assert cache_files() == []


def test_ctrl_c_during_download_leaves_no_partial_file(
    mirror: FileServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[int] = []

    class InterruptingBar:
        def __init__(self, total: int | None, filename: str, enabled: bool) -> None:
            pass

        def __enter__(self) -> InterruptingBar:
            return self

        def __exit__(self, *exc: object) -> None:
            pass

        def update(self, n: int) -> None:
            seen.append(n)
            # The .part file exists at this point; the interruption must remove it.
            assert [p.suffix for p in weights.cache_dir().iterdir()] == [".part"]
            raise KeyboardInterrupt

    monkeypatch.setattr(weights, "_progress_bar", InterruptingBar)
    with pytest.raises(Interrupted, match="partial file was removed") as info:
        weights.resolve_weights("tiny")
    assert isinstance(info.value, KeyboardInterrupt)
    assert len(seen) == 1
    assert cache_files() == []


@pytest.mark.parametrize("how", ["flag", "env"])
def test_offline_makes_no_request(mirror: FileServer, monkeypatch: pytest.MonkeyPatch, how: str) -> None:
    if how == "env":
        monkeypatch.setenv("LIVEBG_OFFLINE", "1")
    with pytest.raises(WeightsError, match="downloads are off") as info:
        weights.resolve_weights("tiny", offline=how == "flag")
    assert str(weights.cache_dir() / "tiny.pth") in str(info.value)
    assert "--weights PATH" in str(info.value)
    assert mirror.requests == []


def test_damaged_cached_file_is_reported_not_used_or_deleted(
    mirror: FileServer, models: dict[str, ModelSpec], checkpoint_bytes: bytes
) -> None:
    models["tiny"] = tiny_spec(sha256=hashlib.sha256(checkpoint_bytes).hexdigest())
    target = weights.cache_dir() / "tiny.pth"
    target.parent.mkdir(parents=True)
    target.write_bytes(checkpoint_bytes[:-1] + b"!")
    with pytest.raises(WeightsError, match=r"damaged or another version.*delete it") as info:
        weights.resolve_weights("tiny", progress=False)
    assert str(target) in str(info.value)
    assert target.read_bytes() == checkpoint_bytes[:-1] + b"!"
    assert mirror.requests == []


# ---------------------------------------------------------------------------------------------------
# --weights PATH


def test_weights_path_is_used_as_given(mirror: FileServer, tmp_path: Path) -> None:
    own = tmp_path / "mine.pth"
    own.write_bytes(b"anything")
    assert weights.resolve_weights("tiny", own, offline=True) == own
    assert mirror.requests == []


def test_missing_weights_path_is_input_not_found(tmp_path: Path) -> None:
    missing = tmp_path / "nope.pth"
    with pytest.raises(InputNotFoundError, match=re.escape(f"weights file {missing} does not exist")) as info:
        weights.resolve_weights("rvm-mobilenetv3", missing)
    assert isinstance(info.value, FileNotFoundError)
    with pytest.raises(InputNotFoundError, match="is a folder"):
        weights.resolve_weights("rvm-mobilenetv3", tmp_path)


# ---------------------------------------------------------------------------------------------------
# torchvision's weights: the same cache, download, messages and checks


@pytest.fixture
def lraspp_bytes(tmp_path: Path) -> bytes:
    """A state dict in the official LR-ASPP layout, with random weights."""
    from livebg.models.segmentation import build_segmentation

    torch.manual_seed(0)
    buffer = io.BytesIO()
    torch.save(build_segmentation("lraspp_mobilenet_v3_large").state_dict(), buffer)
    return buffer.getvalue()


def test_segmentation_weights_come_through_the_mirror_into_the_cache(
    mirror: FileServer,
    models: dict[str, ModelSpec],
    lraspp_bytes: bytes,
    tmp_path_factory: pytest.TempPathFactory,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from livebg.matting.factory import create_session

    # The real spec, with the checksum prefix of the test's file in place of torchvision's.
    real = models["lraspp-mobilenetv3"]
    prefix = hashlib.sha256(lraspp_bytes).hexdigest()[:8]
    models["lraspp-mobilenetv3"] = dataclasses.replace(
        real, weights=dataclasses.replace(real.weights, sha256=prefix)
    )
    mirror.files[f"/mirror/{LRASPP}"] = lraspp_bytes

    session = create_session(ModelConfig(name="lraspp-mobilenetv3", device="cpu"))
    assert session(torch.rand(1, 3, 32, 48)).alpha.shape == (1, 1, 32, 48)
    assert mirror.requests == [f"/mirror/{LRASPP}"]
    assert cache_files() == [LRASPP]
    assert (weights.cache_dir() / LRASPP).read_bytes() == lraspp_bytes
    assert f"{LRASPP}: 100%" in capsys.readouterr().err  # the same progress bar as RVM's
    torch_home = tmp_path_factory.getbasetemp() / "torch-home"
    assert not torch_home.exists() or not any(torch_home.rglob("*.pth"))  # nothing in torch hub's cache

    # Cached: no request, also offline.
    create_session(ModelConfig(name="lraspp-mobilenetv3", device="cpu", offline=True))
    assert len(mirror.requests) == 1


def test_segmentation_weights_with_another_checksum_are_discarded(
    mirror: FileServer, lraspp_bytes: bytes
) -> None:
    mirror.files[f"/mirror/{LRASPP}"] = lraspp_bytes  # random weights: not torchvision's d234d4ea...
    with pytest.raises(WeightsError, match="does not match its published checksum") as info:
        weights.resolve_weights("lraspp-mobilenetv3", progress=False)
    message = str(info.value)
    assert "expected d234d4ea..." in message and f"{mirror.base_url}/{LRASPP}" in message
    assert str(weights.cache_dir() / LRASPP) in message
    assert cache_files() == []


def test_a_cached_segmentation_file_with_another_checksum_is_reported(mirror: FileServer) -> None:
    target = weights.cache_dir() / LRASPP
    target.parent.mkdir(parents=True)
    target.write_bytes(b"half a download")
    with pytest.raises(WeightsError, match=r"damaged or another version.*expected d234d4ea\.\.\.") as info:
        weights.resolve_weights("lraspp-mobilenetv3", progress=False)
    assert str(target) in str(info.value) and "delete it" in str(info.value)
    assert target.read_bytes() == b"half a download"
    assert mirror.requests == []


# ---------------------------------------------------------------------------------------------------
# livebg models


def test_models_lists_every_model_and_its_cache_state(
    mirror: FileServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert "rvm-mobilenetv3 (default): Robust Video Matting" in out
    assert "not downloaded (livebg models --download rvm-resnet50)" in out
    assert out.count("GPL-3.0") == 2
    assert "fcn-resnet50: torchvision person segmentation" in out
    assert "not downloaded (livebg models --download lraspp-mobilenetv3)" in out
    assert "tiny: a tiny test checkpoint" in out
    assert f"weights cache: {weights.cache_dir()}" in out
    # One format for every model: what it is, its weights, licence and runtimes.
    assert out.count("  weights: ") == out.count("  licence: ") == out.count("  runtimes: ") == 6
    assert out.count("licence: torchvision's terms") == 3
    assert out.count("runtimes: torch (fp32, fp16), onnxruntime (fp32), openvino (fp32, bf16)") == 2

    weights.resolve_weights("tiny", progress=False)
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert f"cached at {weights.cache_dir() / 'tiny.pth'}" in out


def test_models_download_fetches_ahead_of_time(
    mirror: FileServer,
    models: dict[str, ModelSpec],
    checkpoint_bytes: bytes,
    capsys: pytest.CaptureFixture[str],
) -> None:
    models.clear()
    registry.register(tiny_spec())
    registry.register(tiny_spec(name="tiny2", filename="tiny2.pth"))
    registry.register(tiny_spec(name="tiny-seg", filename="tiny-seg.pth", kind="segmentation"))
    mirror.files["/mirror/tiny2.pth"] = checkpoint_bytes
    mirror.files["/mirror/tiny-seg.pth"] = checkpoint_bytes

    assert main(["models", "--download", "tiny", "--no-progress"]) == 0
    assert capsys.readouterr().out == f"tiny: {weights.cache_dir() / 'tiny.pth'}\n"
    assert main(["models", "--download", "all", "--no-progress"]) == 0
    assert cache_files() == ["tiny-seg.pth", "tiny.pth", "tiny2.pth"]
    # tiny was cached already; the segmentation model comes the same way.
    assert mirror.requests == ["/mirror/tiny.pth", "/mirror/tiny2.pth", "/mirror/tiny-seg.pth"]


def test_models_download_refuses_unknown_names(
    mirror: FileServer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["models", "--download", "bogus"]) == 2
    err = capsys.readouterr().err
    assert "'bogus'" in err
    assert "rvm-mobilenetv3" in err
    assert mirror.requests == []
