"""OpenVINO with its recurrent decoder in bf16 (``--precision bf16``) against eager fp32 PyTorch; the
fp32 path is checked with ONNX Runtime's in test_exported_graph.py."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from livebg.matting.factory import load_rvm
from livebg.matting.rvm_session import RVMSession
from livebg.models.rvm import MattingNetwork

from .media import clip_tensors, levels

HEIGHT, WIDTH, RATIO = 144, 256, 0.5
CPU = torch.device("cpu")


def _openvino_bf16() -> type:
    ov = pytest.importorskip("openvino")
    if "BF16" not in ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES"):
        pytest.skip("this CPU has no bf16 instructions")
    from livebg.matting.exported.openvino import OpenVinoSession

    return OpenVinoSession


@pytest.fixture(scope="module")
def model(rvm_checkpoint: Path) -> MattingNetwork:
    return load_rvm("rvm-mobilenetv3", rvm_checkpoint)


@pytest.fixture(scope="module")
def frames(data_dir: Path) -> list[torch.Tensor]:
    return clip_tensors(data_dir / "woman_indoor_plants_720p.mp4", 5, size=(HEIGHT, WIDTH))


@pytest.fixture(scope="module")
def export_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("exported")


def test_openvino_bf16_decoder_stays_close_to_fp32(model, frames, export_folder) -> None:
    """Only the decoder runs in bf16: the alpha strays a few levels at edges, not hundreds as with the
    whole network in bf16 (measured at 720p on the shared clips: mean 0.004-0.024/255, max 3-6/255)."""
    reference = RVMSession(model, CPU, torch.float32, RATIO)
    session = _openvino_bf16()(model, RATIO, export_folder=export_folder, precision="bf16")
    assert session.split
    for index, src in enumerate(frames):
        expected = reference(src)
        matte = session(src)
        assert matte.foreground is not None
        assert levels(matte.alpha, expected.alpha) <= 8, f"frame {index}"
        assert levels(matte.foreground, expected.foreground) <= 8, f"frame {index}"
        assert float((matte.alpha - expected.alpha).abs().mean()) < 0.2 / 255, f"frame {index}"
    # The state is carried: a fresh session on the last frame alone gives another matte.
    fresh = _openvino_bf16()(model, RATIO, export_folder=export_folder, precision="bf16")(frames[-1])
    assert float((fresh.alpha - matte.alpha).abs().max()) > 5 / 255
    # A fork runs the same three graphs in bf16, from a fresh state.
    fork = session.fork()
    assert fork.split and float((fork(frames[-1]).alpha - fresh.alpha).abs().max()) < 1e-5


def test_openvino_bf16_runs_at_ratio_one(model, frames, export_folder) -> None:
    """At ratio 1 the head has no use for the frame; the split graphs still run and agree with fp32."""
    bf16 = _openvino_bf16()(model, 1.0, export_folder=export_folder, precision="bf16")
    reference = RVMSession(model, CPU, torch.float32, 1.0)
    for src in frames[:2]:
        assert levels(bf16(src).alpha, reference(src).alpha) <= 8


def test_compiled_models_are_cached_beside_the_graphs_and_trimmed_to_the_newest(
    model, frames, tmp_path: Path
) -> None:
    pytest.importorskip("openvino")
    from livebg.matting.exported.openvino import OpenVinoSession, compiled_cache

    session = OpenVinoSession(model, RATIO, export_folder=tmp_path)
    session(frames[0])
    (blob,) = (tmp_path / "openvino").iterdir()  # the graph compiled for this size and ratio
    assert blob.stat().st_size > 1_000_000
    # Older files beyond the ones kept go, newest first kept; nothing else is touched.
    for age, name in enumerate(("a.blob", "b.blob", "c.blob"), start=1):
        path = tmp_path / "openvino" / name
        path.write_bytes(b"x")
        os.utime(path, (blob.stat().st_mtime - age, blob.stat().st_mtime - age))
    assert compiled_cache(tmp_path, keep=2) == tmp_path / "openvino"
    assert sorted(p.name for p in (tmp_path / "openvino").iterdir()) == sorted([blob.name, "a.blob"])
    assert [p.name for p in tmp_path.glob("*.onnx")]  # the exported graphs stay
