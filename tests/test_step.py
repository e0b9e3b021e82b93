"""The frame step every mode drives: pass-through, compositing, batching, resets, still warm-up, timers."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from livebg.backgrounds import parse_background
from livebg.compositing import Compositor
from livebg.frames import Frame
from livebg.step import FrameStep, StageTimer, alpha_picture
from tests.fakes import DiscSession

GREEN = (0, 177, 64)


def _frame(
    index: int = 0, size: tuple[int, int] = (48, 64), colour: tuple[int, int, int] = (200, 40, 90)
) -> Frame:
    return Frame(np.full((*size, 3), colour, np.uint8), index, index / 30)


def _disc(size: tuple[int, int]) -> np.ndarray:
    alpha = DiscSession()(torch.zeros(1, 3, *size)).alpha[0, 0].numpy()
    return alpha.astype(bool)


def test_background_none_passes_frames_through_without_the_model() -> None:
    session = DiscSession()
    step = FrameStep(session, Compositor(parse_background("none")))
    frame = _frame()
    assert step(frame) is frame.rgb
    assert session.calls == 0 and step.timer.runs("model") == []


def test_the_person_keeps_the_frame_and_the_rest_gets_the_background() -> None:
    step = FrameStep(DiscSession(), Compositor(parse_background("green")))
    out = step(_frame())
    inside = _disc((48, 64))
    assert out.dtype == np.uint8 and out.shape == (48, 64, 3)
    assert (out[inside] == (200, 40, 90)).all()
    assert (out[~inside] == GREEN).all()


def test_frames_given_together_match_frames_one_by_one_in_one_model_call() -> None:
    frames = [_frame(i, colour=(10 * i, 100, 200)) for i in range(3)]
    one = FrameStep(DiscSession(), Compositor(parse_background("#102030")))
    alone = [one(frame) for frame in frames]
    session = DiscSession()
    together = FrameStep(session, Compositor(parse_background("#102030")))
    items = together.matte(frames)
    assert session.calls == 1
    assert [item.frame for item in items] == frames
    for item, expected in zip(items, alone, strict=True):
        assert np.array_equal(together.render(item), expected)


def test_a_new_stream_key_resets_the_state_once() -> None:
    session = DiscSession()
    step = FrameStep(session, Compositor(parse_background("green")))
    for key in ("camera-1", "camera-1", "camera-2", "camera-2"):
        step(_frame(), stream=key)
    assert step.resets == 1 and session.resets == 1


def test_a_still_is_shown_passes_times_from_a_fresh_state() -> None:
    session = DiscSession()
    step = FrameStep(session, Compositor(parse_background("transparent")))
    item = step.matte_still(_frame(), 4)
    assert session.calls == 4 and session.resets == 1
    rgba = step.render(item)
    assert rgba.shape == (48, 64, 4)
    assert np.array_equal(rgba[..., 3] == 255, _disc((48, 64)))


def test_forced_matte_and_the_matte_picture() -> None:
    session = DiscSession()
    step = FrameStep(session, Compositor(parse_background("none")))
    item = step.matte([_frame()], force=True)[0]
    picture = alpha_picture(item)
    assert session.calls == 1 and picture is not None and picture.shape == (48, 64, 3)
    assert np.array_equal(picture[..., 0] == 255, _disc((48, 64)))
    assert alpha_picture(step.matte([_frame()])[0]) is None


def test_the_timer_records_model_and_composite_once_per_frame() -> None:
    step = FrameStep(DiscSession(), Compositor(parse_background("blur")))
    for i in range(3):
        step(_frame(i))
    assert len(step.timer.runs("model")) == len(step.timer.runs("composite")) == 3
    assert step.timer.runs("decode") == []
    assert step.timer.median_ms("model") > 0
    assert np.isnan(step.timer.median_ms("output"))


def test_stage_timer_keeps_a_bounded_window() -> None:
    timer = StageTimer(window=3)
    for seconds in (1.0, 2.0, 3.0, 4.0, 5.0):
        timer.add("output", seconds)
    assert timer.runs("output") == [3.0, 4.0, 5.0]
    assert timer.median_ms("output") == pytest.approx(4000)
    assert timer.last_ms("output") == pytest.approx(5000)
    with timer.stage("decode"):
        pass
    assert len(timer.runs("decode")) == 1
