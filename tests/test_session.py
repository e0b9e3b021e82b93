"""The session protocol: every session answers it, and the downsample ratio is checked where it is set."""

from __future__ import annotations

import math

import pytest
import torch

from livebg.errors import UsageError
from livebg.matting.rvm_session import RVMSession
from livebg.matting.segmentation import SegmentationSession
from livebg.matting.session import MattingSession, check_ratio, matte_any_size
from livebg.models.rvm import MattingNetwork
from livebg.models.segmentation import SegmentationNetwork, build_segmentation

from .fakes import DiscSession

CPU = torch.device("cpu")


def _sessions() -> list[MattingSession]:
    rvm = MattingNetwork("mobilenetv3", "fast_guided_filter")
    sessions: list = [
        RVMSession(rvm, CPU),
        SegmentationSession(SegmentationNetwork(build_segmentation("lraspp_mobilenet_v3_large")), CPU),
        DiscSession(),
    ]
    for backend in ("onnxruntime", "openvino"):
        try:
            __import__(backend)
        except ImportError:
            continue
        if backend == "onnxruntime":
            from livebg.matting.exported.onnxruntime import OnnxSession as Exported
        else:
            from livebg.matting.exported.openvino import OpenVinoSession as Exported
        sessions.append(Exported(rvm))
    return sessions


@pytest.fixture(scope="module")
def sessions() -> list[MattingSession]:
    return _sessions()


def test_every_session_answers_the_protocol_and_so_do_its_forks(sessions: list[MattingSession]) -> None:
    assert len(sessions) >= 3
    for session in sessions:
        fork = session.fork()
        for one in (session, fork):
            assert isinstance(one, MattingSession), type(one).__name__
        assert fork is not session and type(fork) is type(session)
        assert (fork.name, fork.backend, fork.device, fork.dtype) == (
            session.name,
            session.backend,
            session.device,
            session.dtype,
        )


def test_the_ratio_is_set_through_the_setter_and_checked(sessions: list[MattingSession]) -> None:
    for session in sessions:
        name = type(session).__name__
        session.set_downsample_ratio(0.25)
        assert session.downsample_ratio == 0.25 and session.current_ratio(720, 1280) == 0.25, name
        assert session.fork().downsample_ratio == 0.25, name  # a fork keeps the settings
        for bad in (0, 1.5, -0.5, math.nan, "half"):
            with pytest.raises(UsageError, match="outside \\(0, 1\\]"):
                session.set_downsample_ratio(bad)  # type: ignore[arg-type]
            assert session.downsample_ratio == 0.25, name  # a refused value changes nothing
        with pytest.raises(AttributeError):
            session.downsample_ratio = 0.5  # type: ignore[misc]  # read-only: the setter checks
        session.set_downsample_ratio(None)
        assert session.downsample_ratio is None, name
        session.set_downsample_ratio(1)
        assert session.current_ratio(720, 1280) == 1, name


def test_check_ratio_accepts_none_and_the_unit_interval() -> None:
    assert check_ratio(None) is None
    assert check_ratio(1.0) == 1.0 and check_ratio(1e-3) == 1e-3
    with pytest.raises(UsageError, match="downsample ratio 2 is outside") as caught:
        check_ratio(2)
    assert isinstance(caught.value, ValueError)


def _check_tiny_frames(sessions: list[MattingSession], size: tuple[int, int], ratio: float | None) -> None:
    src = torch.rand(1, 3, *size)
    for session in sessions:
        session.set_downsample_ratio(ratio)
        session.reset()
        matte = matte_any_size(session, src)
        name = type(session).__name__
        assert matte.alpha.shape == (1, 1, *size), name
        assert float(matte.alpha.min()) >= 0 and float(matte.alpha.max()) <= 1, name
        assert matte.foreground is None or matte.foreground.shape == (1, 3, *size), name
        session.set_downsample_ratio(None)


@pytest.mark.parametrize(("size", "ratio"), [((1, 1), None), ((2, 2), None), ((1, 5), None), ((6, 2), 0.25)])
def test_frames_down_to_1x1_get_a_matte_of_their_own_size(
    sessions: list[MattingSession], size: tuple[int, int], ratio: float | None
) -> None:
    _check_tiny_frames([s for s in sessions if s.backend == "torch"], size, ratio)


@pytest.mark.slow  # each exported runtime compiles its graph for the padded size (about 15 s)
def test_exported_runtimes_take_frames_down_to_1x1(sessions: list[MattingSession]) -> None:
    exported = [s for s in sessions if s.backend != "torch"]
    if not exported:
        pytest.skip("neither ONNX Runtime nor OpenVINO is installed")
    for size in ((1, 1), (2, 2), (1, 5)):  # all padded to one size: one graph
        _check_tiny_frames(exported, size, None)


def test_a_ratio_that_shrinks_a_frame_below_the_network_minimum_is_one_sentence() -> None:
    session = DiscSession()
    session.set_downsample_ratio(0.001)
    with pytest.raises(UsageError, match=r"^downsample ratio 0.001 shrinks the 64x48 frames below the 8 "):
        matte_any_size(session, torch.rand(1, 3, 48, 64))
