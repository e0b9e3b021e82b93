"""Holding a live frame rate: the ratio controller driven by synthetic timings (cost grows with the ratio
squared), the control that applies it to a session, and the thread that compiles the ladder ahead."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from livebg.errors import UsageError
from livebg.live.ratio import (
    GraphPreparer,
    RatioControl,
    RatioController,
    Rung,
    floor_ratio,
    rungs,
    target_rate,
)

from .fakes import FakeSession, everything_is_person


def cost_model(fixed_ms: float, per_ratio_squared_ms: float) -> Callable[[float], float]:
    """Seconds per frame at a ratio: a fixed part (decode, composite) plus the network's part."""
    return lambda ratio: (fixed_ms + per_ratio_squared_ms * ratio * ratio) / 1000


def simulate(controller: RatioController, cost: Callable[[float], float], frames: int) -> tuple[list, int]:
    """Feed ``frames`` frame times; returns the ratio used at each frame and the number of changes."""
    used, changes = [], 0
    for _ in range(frames):
        ratio = controller.ratio
        used.append(ratio)
        if controller.update(cost(ratio)) is not None:
            changes += 1
    return used, changes


def test_ladder_runs_from_the_starting_ratio_down_to_the_minimum() -> None:
    assert RatioController(30, 0.375).ratios == (0.375, 0.2812, 0.2109, 0.1582, 0.125)
    assert RatioController(30, 0.5, min_ratio=0.25, step=0.5).ratios == (0.5, 0.25)
    # 0.4 x 0.75^4 = 0.1266 is not worth a rung of its own above the minimum 0.125.
    assert RatioController(30, 0.4).ratios == (0.4, 0.3, 0.225, 0.1688, 0.125)
    # A starting ratio below the minimum is the only rung.
    assert RatioController(30, 0.1).ratios == (0.1,)


def test_steps_down_until_the_frame_budget_is_met_and_stays_there() -> None:
    controller = RatioController(30, 0.375)  # budget 33.3 ms
    # 59 ms at 0.375, 37.7 ms at 0.2812, 25.6 ms at 0.2109 (fits, but not below 0.7 x budget = 23.3 ms)
    used, changes = simulate(controller, cost_model(10, 350), 600)
    assert controller.ratio == 0.2109
    assert changes == 2
    # The first step waits for a full median window (9 frames); the next also skips 3 settle frames.
    assert used.index(0.2812) == 9
    assert used.index(0.2109) == 9 + 3 + 9
    assert used[21:] == [0.2109] * (600 - 21)


def test_returns_the_new_ratio_only_when_it_changes() -> None:
    controller = RatioController(30, 0.375, window=1, settle_frames=0)
    assert controller.update(0.010) is None  # fast, and already at the top
    assert controller.update(0.050) == Rung(0.2812, 1)
    assert controller.ratio == 0.2812


def test_steps_back_up_when_the_load_goes_away() -> None:
    controller = RatioController(30, 0.375)
    simulate(controller, cost_model(10, 350), 100)  # busy machine
    assert controller.ratio == 0.2109
    used, changes = simulate(controller, cost_model(5, 100), 400)  # the load is gone: 19 ms at 0.375
    assert controller.ratio == 0.375
    assert changes == 2
    # Raising needs hold_frames (30) frames of headroom after a full window: no hasty climb.
    assert used[:40] == [0.2109] * 40


def test_does_not_raise_without_clear_headroom() -> None:
    controller = RatioController(30, 0.375)
    simulate(controller, cost_model(10, 350), 100)
    # 24 ms at 0.2109: within budget but above 0.7 x budget; climbing would make 0.2812 too slow.
    used, changes = simulate(controller, lambda ratio: 0.024 if ratio < 0.25 else 0.040, 1000)
    assert changes == 0
    assert set(used) == {0.2109}


def test_a_rung_that_is_just_too_slow_is_retried_ever_less_often() -> None:
    controller = RatioController(30, 0.375)
    # 36 ms at 0.375 (just over the 33 ms budget); 20 ms at 0.2812 (well below 0.7 x budget).
    used, changes = simulate(controller, cost_model(0, 256), 6000)
    too_slow_frames = used.count(0.375)
    # Without backoff it would climb back every ~40 frames (about 300 changes); with a doubling wait
    # (150, 300, 600, 1200, 1800, 1800... frames) only a handful of retries happen.
    assert changes <= 16
    assert too_slow_frames / len(used) < 0.03
    assert used[-1] == 0.2812


def test_a_single_slow_frame_changes_nothing() -> None:
    controller = RatioController(30, 0.375)
    for i in range(200):
        seconds = 0.5 if i in (50, 120) else 0.015  # two hiccups (500 ms) among 15 ms frames
        assert controller.update(seconds) is None
    assert controller.ratio == 0.375


def test_frames_right_after_a_change_are_not_counted() -> None:
    controller = RatioController(30, 0.375, window=3, settle_frames=2)
    for _ in range(3):
        controller.update(0.050)
    assert controller.ratio == 0.2812
    # The first frames at the new ratio include compiling its graph: seconds, not milliseconds.
    controller.update(4.0)
    controller.update(0.9)
    for _ in range(10):
        assert controller.update(0.025) is None
    assert controller.ratio == 0.2812


def test_stays_at_the_minimum_when_even_that_is_too_slow() -> None:
    controller = RatioController(30, 0.25, min_ratio=0.125, step=0.5)
    used, changes = simulate(controller, lambda ratio: 0.200, 200)
    assert controller.ratio == 0.125
    assert changes == 1
    assert used.count(0.25) == 9
    assert controller.typical_time == pytest.approx(0.200)


@pytest.mark.parametrize(
    ("kwargs", "word"),
    [
        ({"target_fps": 0, "max_ratio": 0.5}, "frame rate 0"),
        ({"target_fps": 30, "max_ratio": 1.5}, "ratio 1.5"),
        ({"target_fps": 30, "max_ratio": 0.5, "step": 1.0}, "step 1.0"),
        ({"target_fps": 30, "max_ratio": 0.5, "min_ratio": 0}, "minimum ratio 0"),
    ],
)
def test_rejects_values_outside_their_range(kwargs: dict, word: str) -> None:
    with pytest.raises(UsageError, match=word):
        RatioController(**kwargs)


def test_a_far_too_slow_start_goes_down_several_rungs_at_once() -> None:
    controller = RatioController(30, 0.375)
    # 146 ms at 0.375: scaled with the ratio squared, 82 ms at 0.2812, 46 ms at 0.2109, 26 ms at 0.1582.
    used, changes = simulate(controller, cost_model(5, 1000), 300)
    assert used.index(0.1582) == 9  # one window, then straight to the rung that fits (30 ms there)
    assert 0.2812 not in used and 0.2109 not in used
    assert changes == 1 and controller.ratio == 0.1582


def test_the_estimate_errs_towards_too_few_rungs() -> None:
    controller = RatioController(30, 0.375)
    # A large fixed part: 80 ms at 0.375, of which 20 ms do not shrink with the ratio. Scaled with the
    # ratio squared, 0.2109 would take 25 ms; really it takes 39 ms, so the next window goes one rung
    # further, to 0.1582 (30.7 ms), and no further.
    used, changes = simulate(controller, cost_model(20, 427), 300)
    assert [r for i, r in enumerate(used) if i == 0 or used[i - 1] != r] == [0.375, 0.2109, 0.1582]
    assert changes == 2 and controller.ratio == 0.1582


# --- applying it -----------------------------------------------------------------------------------------


def test_the_target_rate_is_the_cameras_own_up_to_30_fps() -> None:
    assert target_rate("camera", 25.0) == 25.0
    assert target_rate("camera", 60.0) == 30.0
    assert target_rate("camera", None) == 30.0  # a camera that reports no rate
    assert target_rate(24.0, 60.0) == 24.0
    assert target_rate(None, 30.0) is None


def test_the_control_sets_the_ratio_on_the_session_and_prepares_the_rest_of_the_ladder() -> None:
    session = FakeSession(everything_is_person)
    session.set_downsample_ratio(0.5)
    with RatioControl(30) as control:  # 480x640: the ladder runs down to 0.25 (160 px)
        for _ in range(9):  # one window of frames at twice the budget
            control.update(session, (480, 640), 2 / 30)
        assert control.controller is not None and control.preparer is not None
        ladder = control.controller.ratios
        assert ladder[0] == 0.5 and session.downsample_ratio in ladder[1:]
        preparer = control.preparer
        deadline = time.monotonic() + 30
        while len(preparer.prepared) < len(ladder) - 1 and time.monotonic() < deadline:
            time.sleep(0.01)
    # Every other rung was compiled, for this frame size, in order.
    assert session.prepared == [(480, 640, r) for r in ladder[1:]]
    assert preparer.prepared == list(ladder[1:])


def test_without_a_target_the_ratio_stays_and_nothing_is_prepared() -> None:
    session = FakeSession(everything_is_person)
    with RatioControl(None) as control:
        for _ in range(30):
            control.update(session, (120, 160), 1.0)
    assert session.downsample_ratio is None and session.prepared == [] and control.preparer is None


class BlockingSession(FakeSession):
    """``prepare`` signals ``started`` and then waits for ``release``, as a long compile would."""

    def __init__(self) -> None:
        super().__init__(everything_is_person)
        self.started = threading.Event()
        self.release = threading.Event()

    def prepare(self, height: int, width: int, ratio: float | None = None) -> None:
        super().prepare(height, width, ratio)
        self.started.set()
        self.release.wait(timeout=30)


def test_the_preparer_stops_between_ratios() -> None:
    session = BlockingSession()
    preparer = GraphPreparer(session, (120, 160), [0.375, 0.25, 0.1875, 0.125])
    assert session.started.wait(timeout=30)
    preparer.stop()  # asked to stop while the first ratio compiles ...
    session.release.set()
    preparer.close()  # ... so closing waits for that one only
    assert session.prepared == [(120, 160, 0.375)] and preparer.prepared == [0.375]
    preparer.close()  # idempotent


def test_a_ratio_that_fails_to_prepare_ends_the_preparer_quietly() -> None:
    class Failing(FakeSession):
        def prepare(self, height: int, width: int, ratio: float | None = None) -> None:
            super().prepare(height, width, ratio)
            raise RuntimeError("cannot compile")

    session = Failing(everything_is_person)
    preparer = GraphPreparer(session, (120, 160), [0.375, 0.25])
    preparer.close()
    assert len(session.prepared) == 1 and preparer.prepared == []


# --- the floor in pixels, and fewer mattes below it ------------------------------------------------------


def test_the_floor_brings_the_longer_side_to_160_pixels() -> None:
    assert floor_ratio(360, 640) == 0.25
    assert floor_ratio(720, 1280) == 0.125
    assert floor_ratio(1080, 1920) == 0.0833
    assert floor_ratio(1280, 720) == 0.125  # portrait: the longer side all the same
    assert floor_ratio(120, 160) == 1.0  # small frames are seen whole


def test_the_control_derives_its_ladder_from_the_frame_size() -> None:
    session = FakeSession(everything_is_person)
    session.set_downsample_ratio(0.375)
    for size, floor in [((720, 1280), 0.125), ((1080, 1920), 0.0833), ((360, 640), 0.25)]:
        with RatioControl(30) as control:
            control.update(session, size, 0.01)
            assert control.controller is not None
            assert control.controller.ratios[0] == 0.375 and control.controller.ratios[-1] == floor


def test_below_the_floor_the_matte_runs_on_fewer_frames_rather_than_smaller() -> None:
    assert rungs((0.25, 0.125)) == (
        Rung(0.25, 1),
        Rung(0.125, 1),
        Rung(0.125, 2),
        Rung(0.125, 3),
        Rung(0.125, 4),
    )
    assert rungs((0.25, 0.125), max_every=2) == (Rung(0.25, 1), Rung(0.125, 1), Rung(0.125, 2))
    # A fixed choice (an experiment: every 2nd frame at each ratio).
    assert rungs((0.25, 0.125), every=2) == (Rung(0.25, 2), Rung(0.125, 2))


def rung_cost(fixed_ms: float, per_ratio_squared_ms: float) -> Callable[[Rung], float]:
    """Seconds per frame at a rung: the fixed part every frame, the network's part once per matte."""
    return lambda rung: (fixed_ms + per_ratio_squared_ms * rung.ratio**2 / rung.every) / 1000


def simulate_rungs(controller: RatioController, cost: Callable[[Rung], float], samples: int) -> list[Rung]:
    used = []
    for _ in range(samples):
        used.append(controller.rung)
        controller.update(cost(controller.rung))
    return used


def changes(used: list[Rung]) -> list[Rung]:
    return [rung for i, rung in enumerate(used) if i == 0 or used[i - 1] != rung]


def test_when_the_floor_is_too_slow_the_matte_runs_on_every_2nd_frame_and_stays() -> None:
    controller = RatioController(30, 0.25, min_ratio=0.125, step=0.5, max_every=4)
    # 49 ms at the floor on every frame; 27 ms a frame with the network on every 2nd (fits, but not
    # below 0.7 x budget): straight there from 180 ms at 0.25, and no further.
    used = simulate_rungs(controller, rung_cost(5, 2800), 3000)
    assert changes(used) == [Rung(0.25, 1), Rung(0.125, 2)]
    assert controller.every == 2 and controller.ratio == 0.125


def test_the_matte_runs_on_every_frame_again_when_the_load_goes_away() -> None:
    controller = RatioController(30, 0.25, min_ratio=0.125, step=0.5, max_every=4)
    simulate_rungs(controller, rung_cost(5, 4000), 300)  # a busy machine
    assert controller.rung == Rung(0.125, 3)
    used = simulate_rungs(controller, rung_cost(2, 200), 400)
    assert changes(used) == [Rung(0.125, 3), Rung(0.125, 2), Rung(0.125, 1), Rung(0.25, 1)]


def test_a_fixed_matte_rate_keeps_it_at_every_ratio() -> None:
    controller = RatioController(30, 0.25, min_ratio=0.125, step=0.5, every=3, max_every=4)
    used = simulate_rungs(controller, rung_cost(5, 8000), 300)  # too slow even at the floor
    assert changes(used) == [Rung(0.25, 3), Rung(0.125, 3)]


def recording(update: Callable, fed: list) -> Callable:
    """``update``, recording its arguments in ``fed``."""

    def record(seconds: float, cpu_seconds: float | None = None) -> Rung | None:
        fed.append((seconds, cpu_seconds))
        return update(seconds, cpu_seconds)

    return record


def test_the_control_mattes_every_kth_frame_and_feeds_one_sample_per_matte() -> None:
    session = FakeSession(everything_is_person)
    fed: list[tuple[float, float | None]] = []
    with RatioControl(30, every=3) as control:
        due = []
        for i in range(9):
            due.append(control.due())
            seconds = 0.030 if due[-1] else 0.006  # the network's frame, then two composites
            control.update(session, (360, 640), seconds, matted=due[-1], cpu_time=0.02 * (i + 1))
            if i == 0:  # the first frame started the controller: record what it is fed from now on
                assert control.controller is not None
                control.controller.update = recording(control.controller.update, fed)  # type: ignore[method-assign]
    assert due == [True, False, False] * 3
    # The mean over the three frames one matte serves; CPU seconds per frame once a cycle has begun.
    assert [round(seconds, 4) for seconds, _ in fed] == [0.014, 0.014, 0.014]
    assert fed[0][1] is None and fed[1][1] == pytest.approx(0.02) and fed[2][1] == pytest.approx(0.02)


def test_a_cpu_budget_lowers_the_ratio_though_the_frame_rate_holds() -> None:
    session = FakeSession(everything_is_person)
    session.set_downsample_ratio(0.375)
    with RatioControl(30, cpu_budget=1.0) as control:
        cpu = 0.0
        for _ in range(100):
            ratio = session.current_ratio(720, 1280)
            # 10 ms a frame in time (two cores at work), but 8 + 400 x ratio^2 ms of CPU: 64 ms at
            # 0.375, beyond one core's 33 ms a frame at 30 fps.
            cpu += (8 + 400 * ratio * ratio) / 1000
            control.update(session, (720, 1280), 0.010, cpu_time=cpu)
        assert control.controller is not None
    assert session.downsample_ratio is not None and session.downsample_ratio < 0.375
    assert (8 + 400 * session.downsample_ratio**2) / 1000 <= 1.0 / 30
