"""The RVM session carries the recurrent state from frame to frame and forgets it when it should; its
forks serve other streams with the same network."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from livebg.matting.factory import load_rvm
from livebg.matting.rvm_session import RVMSession
from livebg.matting.session import MattingSession, auto_downsample_ratio
from livebg.models.rvm import MattingNetwork

from .media import clip_tensors


@pytest.fixture(scope="module")
def session() -> RVMSession:
    torch.manual_seed(0)
    return RVMSession(MattingNetwork("mobilenetv3", "fast_guided_filter").eval(), torch.device("cpu"))


def _frames(n: int, size: tuple[int, int] = (72, 128)) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    return [torch.rand(1, 3, *size, generator=g) for _ in range(n)]


def test_is_a_matting_session(session: RVMSession) -> None:
    assert isinstance(session, MattingSession)


def test_state_is_carried_and_reset(session: RVMSession) -> None:
    a, b = _frames(2)
    session.reset()
    session(a)
    carried = session(b).alpha
    session.reset()
    fresh = session(b).alpha
    assert (carried - fresh).abs().max() > 1e-4  # the previous frame changed the result
    session.reset()
    session(a)
    again = session(b).alpha
    assert torch.equal(again, carried)  # and the same history gives the same result


def test_size_change_starts_afresh(session: RVMSession) -> None:
    session.reset()
    small = _frames(1, (64, 96))[0]
    fresh = session(small).alpha
    session.reset()
    for frame in _frames(2):
        session(frame)
    after_other_size = session(small).alpha  # must not reuse the other size's state
    assert torch.equal(after_other_size, fresh)


def test_output_contract(session: RVMSession) -> None:
    matte = session(_frames(1, (90, 160))[0])
    assert matte.alpha.shape == (1, 1, 90, 160) and matte.foreground.shape == (1, 3, 90, 160)
    assert matte.alpha.min() >= 0 and matte.alpha.max() <= 1
    alpha_only = session.fork()
    alpha_only.foreground = False
    without = alpha_only(_frames(1, (90, 160))[0])
    assert without.foreground is None and torch.equal(without.alpha, matte.alpha)


def test_automatic_ratio_targets_512_pixels() -> None:
    assert auto_downsample_ratio(1080, 1920) == pytest.approx(512 / 1920)
    assert auto_downsample_ratio(720, 1280) == pytest.approx(0.4)
    assert auto_downsample_ratio(480, 480) == 1.0
    session = RVMSession(MattingNetwork("mobilenetv3", "fast_guided_filter"), torch.device("cpu"))
    assert session.current_ratio(2160, 3840) == pytest.approx(512 / 3840)
    session.set_downsample_ratio(0.25)
    assert session.current_ratio(2160, 3840) == 0.25
    assert session.downsample_ratio == 0.25
    session.set_downsample_ratio(None)
    assert session.current_ratio(2160, 3840) == pytest.approx(512 / 3840)


def test_matte_is_right_where_the_person_is(data_dir: Path, rvm_checkpoint: Path) -> None:
    """A still with a reference alpha (P3M-Net's): our matte agrees where the reference is sure."""
    import cv2
    import numpy as np

    from livebg.tensors import to_tensor

    rgb = cv2.cvtColor(cv2.imread(str(data_dir / "portrait_02.jpg")), cv2.COLOR_BGR2RGB)
    reference = cv2.imread(str(data_dir / "portrait_02_p3mnet_alpha.png"), cv2.IMREAD_GRAYSCALE) / 255.0
    rgb = cv2.resize(rgb, (640, 360), interpolation=cv2.INTER_AREA)
    reference = cv2.resize(reference, (640, 360), interpolation=cv2.INTER_AREA)
    session = RVMSession(load_rvm("rvm-mobilenetv3", rvm_checkpoint), torch.device("cpu"))
    src = to_tensor(rgb, session.device)
    for _ in range(3):  # a few repeats let the recurrent state settle, as on a still camera
        alpha = session(src).alpha[0, 0].numpy()
    person, background = reference > 0.95, reference < 0.05
    assert person.mean() > 0.05 and background.mean() > 0.2
    assert alpha[person].mean() > 0.9, alpha[person].mean()
    assert alpha[background].mean() < 0.1, alpha[background].mean()
    iou = (
        np.logical_and(alpha > 0.5, reference > 0.5).sum() / np.logical_or(alpha > 0.5, reference > 0.5).sum()
    )
    assert iou > 0.85, iou


@pytest.mark.gpu
def test_cuda_fp16_agrees_with_cpu_fp32(rvm_checkpoint: Path) -> None:
    if not torch.cuda.is_available():
        pytest.skip("no CUDA GPU")
    frames = _frames(3, (144, 256))
    cpu = RVMSession(load_rvm("rvm-mobilenetv3", rvm_checkpoint), torch.device("cpu"), downsample_ratio=0.5)
    gpu = RVMSession(
        load_rvm("rvm-mobilenetv3", rvm_checkpoint), torch.device("cuda"), torch.float16, downsample_ratio=0.5
    )
    for frame in frames:
        expected = cpu(frame).alpha
        got = gpu(frame.to("cuda", torch.float16)).alpha.float().cpu()
        assert (got - expected).abs().mean() < 1 / 255


@pytest.mark.gpu
def test_cuda_fp16_batch_agrees_with_one_frame_at_a_time(rvm_checkpoint: Path) -> None:
    if not torch.cuda.is_available():
        pytest.skip("no CUDA GPU")
    frames = [f.to("cuda", torch.float16) for f in _frames(4, (144, 256))]
    model = load_rvm("rvm-mobilenetv3", rvm_checkpoint)
    one = RVMSession(model, torch.device("cuda"), torch.float16, downsample_ratio=0.5)
    expected = torch.cat([one(f).alpha for f in frames]).float()
    four = RVMSession(model, torch.device("cuda"), torch.float16, downsample_ratio=0.5)
    got = four(torch.cat(frames)).alpha.float()
    assert (got - expected).abs().max() < 2 / 255


@pytest.mark.parametrize("refiner", ["fast_guided_filter", "deep_guided_filter"])
@pytest.mark.parametrize("ratio", [0.5, 1.0])
def test_a_batch_is_consecutive_frames_and_equals_one_frame_at_a_time(refiner: str, ratio: float) -> None:
    """Files on a GPU give the session several frames at once: the result (and the state left for the
    next batch) must be what the frames give one by one."""
    torch.manual_seed(0)
    model = MattingNetwork("mobilenetv3", refiner).eval()
    frames = _frames(5, (66, 118))  # odd sizes at the lower levels of the decoder
    stepwise = RVMSession(model, torch.device("cpu"), downsample_ratio=ratio)
    expected = [stepwise(f) for f in frames]
    batched = RVMSession(model, torch.device("cpu"), downsample_ratio=ratio)
    got = [batched(torch.cat(frames[:3])), batched(torch.cat(frames[3:]))]
    alpha = torch.cat([m.alpha for m in got])
    foreground = torch.cat([m.foreground for m in got])
    assert alpha.shape == (5, 1, 66, 118)
    assert torch.allclose(alpha, torch.cat([m.alpha for m in expected]), atol=1e-5)
    assert torch.allclose(foreground, torch.cat([m.foreground for m in expected]), atol=1e-5)
    # The frames differ, so a batch treated as independent streams would not match.
    assert (alpha[4] - alpha[0]).abs().max() > 1e-3


# --- forks: other streams of the same model -------------------------------------------------------------


@pytest.fixture(scope="module")
def real_session(rvm_checkpoint: Path) -> RVMSession:
    return RVMSession(load_rvm("rvm-mobilenetv3", rvm_checkpoint), torch.device("cpu"), downsample_ratio=0.5)


def _clip(data_dir: Path) -> list[torch.Tensor]:
    return clip_tensors(data_dir / "woman_indoor_plants_720p.mp4", 4, size=(72, 128))


def test_a_fork_gives_what_a_fresh_session_gives(real_session: RVMSession, data_dir: Path) -> None:
    frames = _clip(data_dir)
    real_session.reset()
    for src in frames:
        real_session(src)  # a history the fork must not inherit
    fork = real_session.fork()
    assert fork.model is real_session.model  # the network is loaded once
    assert (fork.name, fork.device, fork.dtype, fork.downsample_ratio) == (
        "rvm",
        torch.device("cpu"),
        torch.float32,
        0.5,
    )
    fresh = RVMSession(real_session.model, torch.device("cpu"), downsample_ratio=0.5)
    for index, src in enumerate(frames):
        assert torch.equal(fork(src).alpha, fresh(src).alpha), f"frame {index}"


def test_two_forks_interleaved_keep_their_own_state(real_session: RVMSession, data_dir: Path) -> None:
    frames = _clip(data_dir)
    other = [src.flip(-1) for src in frames]  # the second stream shows other pictures
    alone_one = [m.alpha for m in map(real_session.fork(), frames)]
    alone_two = [m.alpha for m in map(real_session.fork(), other)]
    one, two = real_session.fork(), real_session.fork()
    for index, (a, b) in enumerate(zip(frames, other, strict=True)):
        assert torch.equal(one(a).alpha, alone_one[index]), f"frame {index}"
        assert torch.equal(two(b).alpha, alone_two[index]), f"frame {index}"
    assert float((alone_one[-1] - alone_two[-1]).abs().max()) > 0.5  # the streams did differ
    # The state matters here: frame 1 after frame 0 is not frame 1 alone, so a leak would show.
    assert float((alone_one[1] - real_session.fork()(frames[1]).alpha).abs().max()) > 1 / 255
