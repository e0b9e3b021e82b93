"""CPU inference backends (ONNX Runtime, OpenVINO) against eager fp32 PyTorch, and choosing a backend.

Accuracy bound: on 5 consecutive real frames (256x144, ratio 0.5, state carried) each backend's alpha
and foreground, rounded to uint8, differ from PyTorch's by at most 2 levels (2/255), and the float
difference stays below 0.5/255 (measured: about 0.001/255 max since the graph takes the downsampled
frame). The alpha also stays within 2 levels on three more shared clips (portrait, two people in
motion, loose hair).
"""

from __future__ import annotations

import sys
from pathlib import Path

import av
import pytest
import torch

from livebg.errors import InputError, MissingDependencyError, UsageError
from livebg.matting.backend import choose_backend, create_exported_session
from livebg.matting.export import GRAPH_VERSION, export_graph, graph_path, graph_shapes, model_fingerprint
from livebg.matting.factory import load_rvm
from livebg.matting.rvm_session import RVMSession
from livebg.models.rvm import MattingNetwork

HEIGHT, WIDTH, RATIO = 144, 256, 0.5
FRAMES = 5
CLIP = "woman_indoor_plants_720p.mp4"
CPU = torch.device("cpu")


def _session_class(backend: str) -> type:
    pytest.importorskip(backend)
    if backend == "onnxruntime":
        from livebg.matting.onnx_session import OnnxSession

        return OnnxSession
    from livebg.matting.openvino_session import OpenVinoSession

    return OpenVinoSession


BACKENDS = ["onnxruntime", "openvino"]


@pytest.fixture(scope="module")
def model(rvm_checkpoint: Path) -> MattingNetwork:
    return load_rvm("rvm-mobilenetv3", rvm_checkpoint)


@pytest.fixture(scope="module")
def frames(data_dir: Path) -> list[torch.Tensor]:
    """The clip's first frames as ``(1, 3, 144, 256)`` float RGB in [0, 1]."""
    out = []
    with av.open(str(data_dir / CLIP)) as container:
        for frame in container.decode(video=0):
            rgb = frame.to_ndarray(format="rgb24", width=WIDTH, height=HEIGHT)
            out.append(torch.from_numpy(rgb).permute(2, 0, 1).unsqueeze(0).float().div(255))
            if len(out) == FRAMES:
                break
    return out


@pytest.fixture(scope="module")
def reference(model: MattingNetwork, frames: list[torch.Tensor]) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Eager fp32 PyTorch ``(alpha, foreground)`` per frame, state carried."""
    session = RVMSession(model, CPU, torch.float32, RATIO)
    return [(m.alpha.clone(), m.foreground.clone()) for m in map(session, frames)]


@pytest.fixture(scope="module")
def export_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("exported")


def _levels(a: torch.Tensor, b: torch.Tensor) -> int:
    """Largest difference in uint8 levels after rounding both to 0..255."""
    to_u8 = lambda t: t.mul(255).add(0.5).clamp(0, 255).to(torch.uint8).to(torch.int16)  # noqa: E731
    return int((to_u8(a) - to_u8(b)).abs().max())


@pytest.mark.parametrize("backend", BACKENDS)
def test_alpha_and_foreground_match_pytorch_fp32(backend, model, frames, reference, export_folder) -> None:
    session = _session_class(backend)(model, RATIO, export_folder=export_folder)
    for index, (src, (alpha_ref, fgr_ref)) in enumerate(zip(frames, reference, strict=True)):
        matte = session(src)
        assert matte.alpha.shape == (1, 1, HEIGHT, WIDTH)
        assert matte.foreground is not None and matte.foreground.shape == (1, 3, HEIGHT, WIDTH)
        assert matte.alpha.dtype == torch.float32 and matte.alpha.device.type == "cpu"
        assert _levels(matte.alpha, alpha_ref) <= 2, f"frame {index}"
        assert _levels(matte.foreground, fgr_ref) <= 2, f"frame {index}"
        assert float((matte.alpha - alpha_ref).abs().max()) < 0.5 / 255, f"frame {index}"
    # The clip shows a person: the matte is neither empty nor full.
    assert 0.1 < float(alpha_ref.mean()) < 0.6


def _clip_frames(path: Path, long_side: int = 256, count: int = FRAMES) -> list[torch.Tensor]:
    """The first ``count`` frames of ``path`` with the longer side ``long_side`` (aspect kept, even)."""
    out = []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        scale = long_side / max(stream.codec_context.width, stream.codec_context.height)
        width = round(stream.codec_context.width * scale / 2) * 2
        height = round(stream.codec_context.height * scale / 2) * 2
        for frame in container.decode(stream):
            rgb = frame.to_ndarray(format="rgb24", width=width, height=height)
            out.append(torch.from_numpy(rgb).permute(2, 0, 1).unsqueeze(0).float().div(255))
            if len(out) == count:
                break
    return out


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    "clip",
    [
        "webcam_office_man_glasses_720x1280.mp4",  # portrait
        "kids_jumping_bedroom_540p.mp4",  # two people, fast motion
        "talking_head_woman_long_hair_512.mp4",  # loose hair
    ],
)
def test_alpha_matches_pytorch_on_other_shared_clips(backend, clip, model, data_dir, export_folder) -> None:
    frames = _clip_frames(data_dir / clip)
    reference = RVMSession(model, CPU, torch.float32, RATIO)
    session = _session_class(backend)(model, RATIO, export_folder=export_folder)
    for index, src in enumerate(frames):
        expected = reference(src).alpha
        assert _levels(session(src).alpha, expected) <= 2, f"{clip} frame {index}"
    assert 0.05 < float(expected.mean()) < 0.8  # a person, not an empty or full matte


@pytest.mark.parametrize("backend", BACKENDS)
def test_ratios_whose_float32_size_rounds_down_still_run(backend, model, frames, export_folder) -> None:
    """80 x 0.225 is 18 rows in double but 17.9999995 in float32: the graph must agree with PyTorch."""
    src = torch.nn.functional.interpolate(frames[0], size=(80, 144), mode="area")
    expected = RVMSession(model, CPU, torch.float32, 0.225)(src).alpha
    matte = _session_class(backend)(model, 0.225, export_folder=export_folder)(src)
    assert _levels(matte.alpha, expected) <= 2


@pytest.mark.parametrize("backend", BACKENDS)
def test_state_is_carried_in_the_runtime_and_reset_forgets_it(
    backend, model, frames, reference, export_folder
) -> None:
    cls = _session_class(backend)
    carried = cls(model, RATIO, export_folder=export_folder)
    carried(frames[0])
    second = carried(frames[1]).alpha
    fresh = cls(model, RATIO, export_folder=export_folder)(frames[1]).alpha
    # The state from frame 0 changes frame 1 visibly, and the carried result is PyTorch's.
    assert float((second - fresh).abs().max()) > 5 / 255
    assert _levels(second, reference[1][0]) <= 2
    carried.reset()
    again = carried(frames[1]).alpha
    assert float((again - fresh).abs().max()) < 1e-5


@pytest.mark.parametrize("backend", BACKENDS)
def test_outputs_are_fresh_tensors_each_frame(backend, model, frames, export_folder) -> None:
    session = _session_class(backend)(model, RATIO, export_folder=export_folder)
    first = session(frames[0]).alpha
    kept = first.clone()
    session(frames[1])
    # The pipeline may still hold frame 0's matte while frame 1 runs: it must not be overwritten.
    assert torch.equal(first, kept)


@pytest.mark.parametrize("backend", BACKENDS)
def test_second_session_loads_the_cached_graph(backend, model, frames, tmp_path) -> None:
    cls = _session_class(backend)
    first = cls(model, RATIO, export_folder=tmp_path)
    first(frames[0])
    graphs = sorted(tmp_path.glob("*.onnx"))
    assert first.exports == 1 and len(graphs) == 1
    written = graphs[0].stat().st_mtime_ns
    second = cls(model, RATIO, export_folder=tmp_path)
    second(frames[0])
    assert second.exports == 0
    assert sorted(tmp_path.glob("*.onnx")) == graphs
    assert graphs[0].stat().st_mtime_ns == written
    assert list(tmp_path.glob("*.tmp")) == []  # written under a temporary name, then renamed


@pytest.mark.parametrize("backend", BACKENDS)
def test_one_graph_serves_every_size_and_ratio_and_switching_back_is_instant(
    backend, model, frames, tmp_path
) -> None:
    session = _session_class(backend)(model, RATIO, export_folder=tmp_path)
    compiled = []
    compile_graph = session._compile
    session._compile = lambda graph, shapes: compiled.append(shapes.ratio) or compile_graph(graph, shapes)  # type: ignore[method-assign]
    assert session(frames[0]).alpha.shape == (1, 1, HEIGHT, WIDTH)
    small = torch.nn.functional.interpolate(frames[1], size=(72, 128), mode="area")
    assert session(small).alpha.shape == (1, 1, 72, 128)
    session.downsample_ratio = 0.25  # what live mode does to hold its frame rate
    assert session(frames[2]).alpha.shape == (1, 1, HEIGHT, WIDTH)
    assert session.current_ratio(HEIGHT, WIDTH) == 0.25
    assert compiled == [0.5, 0.5, 0.25]
    # Exported once, with a free frame size: one file for both sizes and both ratios.
    assert session.exports == 1 and len(list(tmp_path.glob("*.onnx"))) == 1
    session.downsample_ratio = RATIO
    session(frames[3])
    assert session.exports == 1 and len(compiled) == 3  # kept compiled: no export, no compile


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_size_and_ratio_unlike_the_traced_one_match_pytorch(backend, model, frames, export_folder) -> None:
    """Odd sizes at every level of the decoder (crops of the upsampled features) and at ratio 1 (the
    graph without the refiner): the free-size graph still computes what PyTorch does."""
    src = torch.nn.functional.interpolate(frames[0], size=(101, 179), mode="area")
    for ratio in (0.7, 1.0):
        expected = RVMSession(model, CPU, torch.float32, ratio)(src).alpha
        matte = _session_class(backend)(model, ratio, export_folder=export_folder)(src)
        assert matte.alpha.shape == (1, 1, 101, 179)
        assert _levels(matte.alpha, expected) <= 2, f"ratio {ratio}"


def test_export_leaves_the_eager_model_untouched(model, frames, tmp_path) -> None:
    before = RVMSession(model, CPU, torch.float32, RATIO)(frames[0]).alpha.clone()
    graph = export_graph(model, True, folder=tmp_path)
    after = RVMSession(model, CPU, torch.float32, RATIO)(frames[0]).alpha
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


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_batch_is_consecutive_frames(backend, model, frames, reference, export_folder) -> None:
    session = _session_class(backend)(model, RATIO, export_folder=export_folder)
    matte = session(torch.cat(frames[:3]))
    assert matte.alpha.shape == (3, 1, HEIGHT, WIDTH) and matte.foreground is not None
    for index in range(3):
        assert _levels(matte.alpha[index], reference[index][0][0]) <= 2, f"frame {index}"
    with pytest.raises(InputError, match=r"\(1, 4, 144, 256\)"):
        session(torch.zeros(1, 4, HEIGHT, WIDTH))


# --- choosing a backend -------------------------------------------------------------------------------


def _hide(monkeypatch: pytest.MonkeyPatch, *packages: str) -> None:
    """Make ``import package`` fail as it does where the package is not installed."""
    for package in packages:
        monkeypatch.setitem(sys.modules, package, None)


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


def test_fp16_is_refused_for_exported_sessions(model) -> None:
    with pytest.raises(UsageError, match="--precision fp16"):
        create_exported_session("onnxruntime", model, precision="fp16")


def test_factory_builds_the_chosen_backend(rvm_checkpoint: Path) -> None:
    pytest.importorskip("livebg.weights")
    pytest.importorskip("openvino")
    from livebg.config import ModelConfig
    from livebg.matting.factory import create_session

    session = create_session(ModelConfig(weights=rvm_checkpoint, device="cpu", backend="auto"))
    assert getattr(session, "backend", None) == "openvino"
    session = create_session(ModelConfig(weights=rvm_checkpoint, device="cpu", backend="torch"))
    assert isinstance(session, RVMSession)


def _openvino_bf16() -> type:
    ov = pytest.importorskip("openvino")
    if "BF16" not in ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES"):
        pytest.skip("this CPU has no bf16 instructions")
    from livebg.matting.openvino_session import OpenVinoSession

    return OpenVinoSession


def test_openvino_bf16_decoder_stays_close_to_fp32(model, frames, reference, export_folder) -> None:
    """Only the decoder runs in bf16: the alpha strays a few levels at edges, not hundreds as with the
    whole network in bf16 (measured at 720p on the shared clips: mean 0.004-0.024/255, max 3-6/255)."""
    session = _openvino_bf16()(model, RATIO, export_folder=export_folder, precision="bf16")
    assert session.split
    for index, (src, (alpha_ref, fgr_ref)) in enumerate(zip(frames, reference, strict=True)):
        matte = session(src)
        assert matte.foreground is not None
        assert _levels(matte.alpha, alpha_ref) <= 8, f"frame {index}"
        assert _levels(matte.foreground, fgr_ref) <= 8, f"frame {index}"
        assert float((matte.alpha - alpha_ref).abs().mean()) < 0.2 / 255, f"frame {index}"
    # The state is carried: a fresh session on the last frame alone gives another matte.
    fresh = _openvino_bf16()(model, RATIO, export_folder=export_folder, precision="bf16")(frames[-1])
    assert float((fresh.alpha - matte.alpha).abs().max()) > 5 / 255


def test_openvino_bf16_runs_at_ratio_one(model, frames, export_folder) -> None:
    """At ratio 1 the head has no use for the frame; the split graphs still run and agree with fp32."""
    bf16 = _openvino_bf16()(model, 1.0, export_folder=export_folder, precision="bf16")
    reference = RVMSession(model, CPU, torch.float32, 1.0)
    for src in frames[:2]:
        assert _levels(bf16(src).alpha, reference(src).alpha) <= 8


def test_bf16_is_offered_by_openvino_only(model) -> None:
    with pytest.raises(UsageError, match="--backend openvino for bf16"):
        create_exported_session("onnxruntime", model, precision="bf16")
    from livebg.matting.factory import resolve_dtype

    with pytest.raises(UsageError, match="--precision bf16 is offered by --backend openvino"):
        resolve_dtype("bf16", CPU)
