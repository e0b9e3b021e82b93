"""The matte worker: the newest frame only, its pace, a new stream waited for, errors handed over."""

from __future__ import annotations

import time

import numpy as np
import pytest
from torch import Tensor

from livebg.backgrounds import parse_background
from livebg.compositing import Compositor
from livebg.frames import Frame
from livebg.live.ratio import RatioControl
from livebg.live.worker import MatteWorker
from livebg.step import FrameStep

from .fakes import FakeSession, everything_is_person
from .media import solid


def frame(index: int) -> Frame:
    return Frame(solid((4 * index, 0, 255), (24, 32)), index=index, time=index / 30)


def index_of(src: Tensor) -> int:
    return round(float(src[0, 0].mean()) * 255 / 4)


def worker_for(session: FakeSession, interval: float = 0.0) -> MatteWorker:
    step = FrameStep(session, Compositor(parse_background("#00ff00")))
    return MatteWorker(step, RatioControl(None), interval)


def test_frames_given_while_the_model_is_busy_replace_each_other() -> None:
    seen: list[int] = []
    session = FakeSession(lambda src: seen.append(index_of(src)) or everything_is_person(src), delay=0.2)
    with worker_for(session) as worker:
        worker.submit(frame(0), "camera")
        time.sleep(0.05)  # the model has frame 0
        for i in range(1, 6):
            worker.submit(frame(i), "camera")
        assert worker.wait("camera") is not None
        deadline = time.monotonic() + 10
        while len(seen) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        held = worker.wait("camera")
    assert seen == [0, 5]  # frames 1 to 4 were never queued
    assert held is not None and held.ratio == 1.0 and held.item.frame.index in (0, 5)


def test_a_new_matte_starts_no_sooner_than_the_interval() -> None:
    session = FakeSession(everything_is_person)
    with worker_for(session, interval=0.1) as worker:
        began = time.monotonic()
        for i in range(50):  # a frame every 10 ms for half a second
            worker.submit(frame(i), "camera")
            time.sleep(0.01)
        elapsed = time.monotonic() - began
    assert 2 <= session.calls <= elapsed / 0.1 + 1


def test_the_newest_matte_belongs_to_its_stream_and_a_new_stream_is_waited_for() -> None:
    session = FakeSession(everything_is_person, delay=0.05)
    with worker_for(session) as worker:
        worker.submit(frame(0), "first")
        first = worker.wait("first")
        assert first is not None and first.stream == "first"
        worker.submit(frame(1), "second")
        assert worker.latest("second") is None  # the model has not finished the new stream's frame
        second = worker.wait("second", timeout=10)
    assert second is not None and second.item.frame.index == 1 and second.stream == "second"
    assert session.resets == 1  # the new stream started the model's state afresh
    alpha = second.item.matte.alpha if second.item.matte is not None else None
    assert alpha is not None and np.all(alpha.numpy() == 1)


def test_an_error_in_the_model_is_raised_in_the_caller() -> None:
    def broken(src: Tensor) -> Tensor:
        raise RuntimeError("model failed")

    with worker_for(FakeSession(broken)) as worker:
        worker.submit(frame(0), "camera")
        with pytest.raises(RuntimeError, match="model failed"):
            worker.wait("camera", timeout=10)
        with pytest.raises(RuntimeError, match="model failed"):
            worker.latest("camera")


def test_closing_waits_for_the_matte_in_progress_and_ends_waiting() -> None:
    session = FakeSession(everything_is_person, delay=0.2)
    worker = worker_for(session)
    worker.submit(frame(0), "camera")
    time.sleep(0.05)
    worker.close()
    assert session.calls == 1
    assert worker.wait("other") is None  # a stopped worker makes no more mattes
    worker.close()  # idempotent
