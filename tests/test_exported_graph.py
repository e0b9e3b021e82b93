"""The exported-graph sessions (ONNX Runtime, OpenVINO) against eager fp32 PyTorch: accuracy, state,
the graph cache, compiling per size and ratio, and forks for other streams.

Accuracy bound: on 5 consecutive real frames (256x144, ratio 0.5, state carried) each backend's alpha
and foreground, rounded to uint8, differ from PyTorch's by at most 2 levels (2/255), and the float
difference stays below 0.5/255 (measured: about 0.001/255 max since the graph takes the downsampled
frame). The alpha also stays within 2 levels on three more shared clips (portrait, two people in
motion, loose hair).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from livebg.errors import InputError
from livebg.matting.factory import load_rvm
from livebg.matting.rvm_session import RVMSession
from livebg.matting.session import MattingSession
from livebg.models.rvm import MattingNetwork

from .media import clip_tensors, levels

HEIGHT, WIDTH, RATIO = 144, 256, 0.5
FRAMES = 5
CLIP = "woman_indoor_plants_720p.mp4"
CPU = torch.device("cpu")
BACKENDS = ["onnxruntime", "openvino"]


def _session_class(backend: str) -> type:
    pytest.importorskip(backend)
    if backend == "onnxruntime":
        from livebg.matting.exported.onnxruntime import OnnxSession

        return OnnxSession
    from livebg.matting.exported.openvino import OpenVinoSession

    return OpenVinoSession


@pytest.fixture(scope="module")
def model(rvm_checkpoint: Path) -> MattingNetwork:
    return load_rvm("rvm-mobilenetv3", rvm_checkpoint)


@pytest.fixture(scope="module")
def frames(data_dir: Path) -> list[torch.Tensor]:
    """The clip's first frames as ``(1, 3, 144, 256)`` float RGB in [0, 1]."""
    return clip_tensors(data_dir / CLIP, FRAMES, size=(HEIGHT, WIDTH))


@pytest.fixture(scope="module")
def reference(model: MattingNetwork, frames: list[torch.Tensor]) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Eager fp32 PyTorch ``(alpha, foreground)`` per frame, state carried."""
    session = RVMSession(model, CPU, torch.float32, RATIO)
    return [(m.alpha.clone(), m.foreground.clone()) for m in map(session, frames)]


@pytest.fixture(scope="module")
def export_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("exported")


@pytest.mark.parametrize("backend", BACKENDS)
def test_alpha_and_foreground_match_pytorch_fp32(backend, model, frames, reference, export_folder) -> None:
    session = _session_class(backend)(model, RATIO, export_folder=export_folder)
    assert isinstance(session, MattingSession)
    for index, (src, (alpha_ref, fgr_ref)) in enumerate(zip(frames, reference, strict=True)):
        matte = session(src)
        assert matte.alpha.shape == (1, 1, HEIGHT, WIDTH)
        assert matte.foreground is not None and matte.foreground.shape == (1, 3, HEIGHT, WIDTH)
        assert matte.alpha.dtype == torch.float32 and matte.alpha.device.type == "cpu"
        assert levels(matte.alpha, alpha_ref) <= 2, f"frame {index}"
        assert levels(matte.foreground, fgr_ref) <= 2, f"frame {index}"
        assert float((matte.alpha - alpha_ref).abs().max()) < 0.5 / 255, f"frame {index}"
    # The clip shows a person: the matte is neither empty nor full.
    assert 0.1 < float(alpha_ref.mean()) < 0.6


@pytest.mark.parametrize("backend", BACKENDS)
def test_alpha_alone_is_the_same_alpha(backend, model, frames, reference, export_folder) -> None:
    session = _session_class(backend)(model, RATIO, export_folder=export_folder)
    session.foreground = False
    for index, (src, (alpha_ref, _)) in enumerate(zip(frames, reference, strict=True)):
        matte = session(src)
        assert matte.foreground is None and matte.alpha.shape == (1, 1, HEIGHT, WIDTH)
        assert float((matte.alpha - alpha_ref).abs().max()) < 0.5 / 255, f"frame {index}"


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
    frames = clip_tensors(data_dir / clip, FRAMES)
    reference = RVMSession(model, CPU, torch.float32, RATIO)
    session = _session_class(backend)(model, RATIO, export_folder=export_folder)
    for index, src in enumerate(frames):
        expected = reference(src).alpha
        assert levels(session(src).alpha, expected) <= 2, f"{clip} frame {index}"
    assert 0.05 < float(expected.mean()) < 0.8  # a person, not an empty or full matte


@pytest.mark.parametrize("backend", BACKENDS)
def test_ratios_whose_float32_size_rounds_down_still_run(backend, model, frames, export_folder) -> None:
    """80 x 0.225 is 18 rows in double but 17.9999995 in float32: the graph must agree with PyTorch."""
    src = torch.nn.functional.interpolate(frames[0], size=(80, 144), mode="area")
    expected = RVMSession(model, CPU, torch.float32, 0.225)(src).alpha
    matte = _session_class(backend)(model, 0.225, export_folder=export_folder)(src)
    assert levels(matte.alpha, expected) <= 2


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
    assert levels(second, reference[1][0]) <= 2
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
    session.set_downsample_ratio(0.25)  # what live mode does to hold its frame rate
    assert session(frames[2]).alpha.shape == (1, 1, HEIGHT, WIDTH)
    assert session.current_ratio(HEIGHT, WIDTH) == 0.25
    assert compiled == [0.5, 0.5, 0.25]
    # Exported once, with a free frame size: one file for both sizes and both ratios.
    assert session.exports == 1 and len(list(tmp_path.glob("*.onnx"))) == 1
    session.set_downsample_ratio(RATIO)
    session(frames[3])
    assert session.exports == 1 and len(compiled) == 3  # kept compiled: no export, no compile


@pytest.mark.parametrize("backend", BACKENDS)
def test_prepare_compiles_ahead_so_the_frame_compiles_nothing(backend, model, frames, tmp_path) -> None:
    session = _session_class(backend)(model, None, export_folder=tmp_path)
    compiled = []
    compile_graph = session._compile
    session._compile = lambda graph, shapes: compiled.append(shapes.ratio) or compile_graph(graph, shapes)  # type: ignore[method-assign]
    session.prepare(HEIGHT, WIDTH, 0.25)
    session.prepare(HEIGHT, WIDTH)  # the current ratio: automatic, 1 for a frame this small
    assert compiled == [0.25, 1.0]
    session.set_downsample_ratio(0.25)
    session(frames[0])
    assert compiled == [0.25, 1.0]


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_size_and_ratio_unlike_the_traced_one_match_pytorch(backend, model, frames, export_folder) -> None:
    """Odd sizes at every level of the decoder (crops of the upsampled features) and at ratio 1 (the
    graph without the refiner): the free-size graph still computes what PyTorch does."""
    src = torch.nn.functional.interpolate(frames[0], size=(101, 179), mode="area")
    for ratio in (0.7, 1.0):
        expected = RVMSession(model, CPU, torch.float32, ratio)(src).alpha
        matte = _session_class(backend)(model, ratio, export_folder=export_folder)(src)
        assert matte.alpha.shape == (1, 1, 101, 179)
        assert levels(matte.alpha, expected) <= 2, f"ratio {ratio}"


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_batch_is_consecutive_frames(backend, model, frames, reference, export_folder) -> None:
    session = _session_class(backend)(model, RATIO, export_folder=export_folder)
    matte = session(torch.cat(frames[:3]))
    assert matte.alpha.shape == (3, 1, HEIGHT, WIDTH) and matte.foreground is not None
    for index in range(3):
        assert levels(matte.alpha[index], reference[index][0][0]) <= 2, f"frame {index}"
    with pytest.raises(InputError, match=r"\(1, 4, 144, 256\)"):
        session(torch.zeros(1, 4, HEIGHT, WIDTH))


# --- forks: other streams of the same model -------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_fork_gives_what_a_fresh_session_gives(backend, model, frames, tmp_path) -> None:
    cls = _session_class(backend)
    session = cls(model, RATIO, export_folder=tmp_path)
    for src in frames[:3]:
        session(src)  # a history the fork must not inherit
    fork = session.fork()
    fresh = cls(model, RATIO, export_folder=tmp_path)
    for index, src in enumerate(frames):
        assert _same(fork(src).alpha, fresh(src).alpha), f"frame {index}"
    assert fork.downsample_ratio == RATIO and fork.name == session.name
    # The fork shares the exported graph: nothing was exported again.
    assert session.exports == 1 and fork.exports == 1 and len(list(tmp_path.glob("*.onnx"))) == 1


@pytest.mark.parametrize("backend", BACKENDS)
def test_two_forks_interleaved_keep_their_own_state(backend, model, frames, tmp_path) -> None:
    cls = _session_class(backend)
    base = cls(model, RATIO, export_folder=tmp_path)
    compiled = []
    compile_graph = base._compile
    base._compile = lambda graph, shapes: compiled.append(shapes.ratio) or compile_graph(graph, shapes)  # type: ignore[method-assign]
    one, two = base.fork(), base.fork()
    other = [src.flip(-1) for src in frames]  # the second stream shows other pictures
    alone_one = [m.alpha for m in map(cls(model, RATIO, export_folder=tmp_path), frames)]
    alone_two = [m.alpha for m in map(cls(model, RATIO, export_folder=tmp_path), other)]
    for index, (a, b) in enumerate(zip(frames, other, strict=True)):
        assert _same(one(a).alpha, alone_one[index]), f"frame {index}"
        assert _same(two(b).alpha, alone_two[index]), f"frame {index}"
    # Both forks ran on the graph compiled once for this size and ratio.
    assert compiled == [RATIO]
    assert float((alone_one[-1] - alone_two[-1]).abs().max()) > 0.5  # the streams did differ


def _same(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Equal up to the runtimes' float rounding (they may order a sum differently from run to run)."""
    return float((a - b).abs().max()) < 1e-5
