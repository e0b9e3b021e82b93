"""The weights registry, cache and download, against a local HTTP server on 127.0.0.1."""

from __future__ import annotations

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
from livebg.errors import InputNotFoundError, Interrupted, UsageError, WeightsError
from livebg.matting import export
from livebg.weights import WeightsSpec

RVM_RELEASE = "https://github.com/PeterL1n/RobustVideoMatting/releases/download/v1.0.0"


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
def registry(monkeypatch: pytest.MonkeyPatch) -> dict[str, WeightsSpec]:
    """A private copy of the registry, so test specs do not leak into other tests."""
    copy = dict(weights._REGISTRY)
    monkeypatch.setattr(weights, "_REGISTRY", copy)
    return copy


def make_spec(filename: str = "tiny.pth", **kwargs: object) -> WeightsSpec:
    fields: dict = {
        "name": "tiny",
        "url": f"https://example.invalid/{filename}",
        "filename": filename,
        "sha256": None,
        "size": None,
        "licence": "MIT",
        "description": "a tiny test checkpoint",
    }
    fields.update(kwargs)
    return WeightsSpec(**fields)


@pytest.fixture
def mirror(
    server: FileServer,
    registry: dict[str, WeightsSpec],
    checkpoint_bytes: bytes,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> FileServer:
    """``tiny`` registered and served by the local mirror; an empty cache of its own."""
    monkeypatch.setenv("LIVEBG_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("LIVEBG_WEIGHTS_URL", server.base_url)
    monkeypatch.delenv("LIVEBG_OFFLINE", raising=False)
    server.files["/mirror/tiny.pth"] = checkpoint_bytes
    weights.register(make_spec())
    return server


def cache_files() -> list[str]:
    folder = weights.cache_dir()
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


# ---------------------------------------------------------------------------------------------------
# Registry


def test_builtin_rvm_specs_point_at_the_official_release() -> None:
    mbv3, r50 = weights.get_spec("rvm-mobilenetv3"), weights.get_spec("rvm-resnet50")
    assert mbv3.url == f"{RVM_RELEASE}/rvm_mobilenetv3.pth"
    assert r50.url == f"{RVM_RELEASE}/rvm_resnet50.pth"
    for spec in (mbv3, r50):
        assert spec.url.endswith("/" + spec.filename)
        assert "GPL-3.0" in spec.licence
    assert weights.DEFAULT_MODEL == "rvm-mobilenetv3"
    assert [s.name for s in weights.model_specs()][:2] == ["rvm-mobilenetv3", "rvm-resnet50"]


def test_registering_a_name_twice_is_an_error(registry: dict[str, WeightsSpec]) -> None:
    spec = weights.register(make_spec())
    assert weights.get_spec("tiny") is spec
    with pytest.raises(ValueError, match="already registered"):
        weights.register(make_spec(description="another"))
    with pytest.raises(ValueError, match="already registered"):
        weights.register(make_spec(name="rvm-mobilenetv3"))
    assert weights.get_spec("tiny") is spec


def test_unknown_name_lists_the_known_ones() -> None:
    with pytest.raises(UsageError, match=r"'nope'.*rvm-mobilenetv3, rvm-resnet50"):
        weights.get_spec("nope")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"filename": "../evil.pth"}, "plain file name"),
        ({"filename": "sub/x.pth"}, "plain file name"),
        ({"sha256": "ABC"}, "64 lowercase hex"),
        ({"size": 0}, "positive"),
    ],
)
def test_bad_specs_are_refused(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make_spec(**kwargs)


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
    spec = weights.get_spec("rvm-resnet50")
    monkeypatch.delenv("LIVEBG_WEIGHTS_URL", raising=False)
    assert weights.weights_url(spec) == spec.url
    monkeypatch.setenv("LIVEBG_WEIGHTS_URL", "https://mirror.example.com/livebg/")
    assert weights.weights_url(spec) == "https://mirror.example.com/livebg/rvm_resnet50.pth"


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
    mirror: FileServer, registry: dict[str, WeightsSpec], checkpoint_bytes: bytes
) -> None:
    registry["tiny"] = make_spec(
        sha256=hashlib.sha256(checkpoint_bytes).hexdigest(), size=len(checkpoint_bytes)
    )
    assert weights.resolve_weights("tiny", progress=False).read_bytes() == checkpoint_bytes


def test_checksum_mismatch_leaves_nothing_in_the_cache(
    mirror: FileServer, registry: dict[str, WeightsSpec]
) -> None:
    wrong = hashlib.sha256(b"something else").hexdigest()
    registry["tiny"] = make_spec(sha256=wrong)
    with pytest.raises(WeightsError, match=f"expected {wrong}") as info:
        weights.resolve_weights("tiny", progress=False)
    assert str(weights.cache_dir() / "tiny.pth") in str(info.value)
    assert cache_files() == []


def test_size_mismatch_leaves_nothing_in_the_cache(
    mirror: FileServer, registry: dict[str, WeightsSpec], checkpoint_bytes: bytes
) -> None:
    registry["tiny"] = make_spec(size=len(checkpoint_bytes) + 1)
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
    mirror: FileServer, registry: dict[str, WeightsSpec], checkpoint_bytes: bytes
) -> None:
    registry["tiny"] = make_spec(sha256=hashlib.sha256(checkpoint_bytes).hexdigest())
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

    weights.resolve_weights("tiny", progress=False)
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert f"cached at {weights.cache_dir() / 'tiny.pth'}" in out


def test_models_download_fetches_ahead_of_time(
    mirror: FileServer,
    registry: dict[str, WeightsSpec],
    checkpoint_bytes: bytes,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    registry.clear()
    weights.register(make_spec())
    weights.register(make_spec(name="tiny2", filename="tiny2.pth"))
    mirror.files["/mirror/tiny2.pth"] = checkpoint_bytes

    assert main(["models", "--download", "tiny", "--no-progress"]) == 0
    assert capsys.readouterr().out == f"tiny: {weights.cache_dir() / 'tiny.pth'}\n"
    from livebg.matting import segmentation

    fetched: list[str] = []
    monkeypatch.setattr(segmentation, "fetch_weights", lambda name: fetched.append(name) or Path(name))
    assert main(["models", "--download", "all", "--no-progress"]) == 0
    assert cache_files() == ["tiny.pth", "tiny2.pth"]
    assert mirror.requests == ["/mirror/tiny.pth", "/mirror/tiny2.pth"]  # tiny was cached already
    assert fetched == list(segmentation.SEGMENTATION_MODELS)  # torchvision's go through torch hub


def test_models_download_refuses_unknown_names(
    mirror: FileServer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["models", "--download", "bogus"]) == 2
    err = capsys.readouterr().err
    assert "'bogus'" in err
    assert "rvm-mobilenetv3" in err
    assert mirror.requests == []
