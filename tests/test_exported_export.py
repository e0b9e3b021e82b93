"""Exporting the RVM network to ONNX: the eager model is left alone, the states have the documented
shapes, older graphs are cleared, and the cache key follows the weights."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from livebg.matting.exported.export import (
    GRAPH_VERSION,
    export_graph,
    graph_path,
    graph_shapes,
    model_fingerprint,
)
from livebg.matting.factory import load_rvm
from livebg.matting.rvm_session import RVMSession
from livebg.models.rvm import MattingNetwork

from .media import clip_tensors

HEIGHT, WIDTH, RATIO = 144, 256, 0.5
CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def model(rvm_checkpoint: Path) -> MattingNetwork:
    return load_rvm("rvm-mobilenetv3", rvm_checkpoint)


def test_export_leaves_the_eager_model_untouched(model, data_dir, tmp_path) -> None:
    (frame,) = clip_tensors(data_dir / "woman_indoor_plants_720p.mp4", 1, size=(HEIGHT, WIDTH))
    before = RVMSession(model, CPU, torch.float32, RATIO)(frame).alpha.clone()
    graph = export_graph(model, True, folder=tmp_path)
    after = RVMSession(model, CPU, torch.float32, RATIO)(frame).alpha
    assert torch.equal(before, after)
    assert graph.exported and graph.path == graph_path(model_fingerprint(model), True, tmp_path)
    # State shapes at 1/2..1/16 of the downsampled 72x128 frame, with MobileNetV3's channels.
    shapes = graph_shapes(model, HEIGHT, WIDTH, RATIO)
    assert shapes.frame == (1, 3, 72, 128) and shapes.coefficients == (1, 4, 72, 128)
    assert shapes.states == ((1, 16, 36, 64), (1, 20, 18, 32), (1, 40, 9, 16), (1, 64, 5, 8))


def test_graphs_of_an_older_livebg_are_removed_on_export(model, tmp_path) -> None:
    older = tmp_path / f"rvm{GRAPH_VERSION - 1}-0123456789abcdef-1280x720-r0.375-torch2.15.0-op17.onnx"
    older.write_bytes(b"old graph")
    newer = tmp_path / f"rvm{GRAPH_VERSION + 1}-0123456789abcdef-refined-torch2.15.0-op17.onnx"
    newer.write_bytes(b"a newer livebg's graph")
    unrelated = tmp_path / "notes.onnx"
    unrelated.write_bytes(b"not ours")
    graph = export_graph(model, False, folder=tmp_path)
    assert not older.exists() and newer.exists() and unrelated.exists()
    assert sorted(tmp_path.glob("*.onnx")) == sorted([graph.path, newer, unrelated])


def test_other_weights_have_another_fingerprint(model) -> None:
    other = MattingNetwork("mobilenetv3", "fast_guided_filter")
    other.load_state_dict(model.state_dict())
    assert model_fingerprint(other) == model_fingerprint(model)
    with torch.no_grad():
        other.project_mat.conv.bias.add_(1e-3)
    assert model_fingerprint(other) != model_fingerprint(model)
