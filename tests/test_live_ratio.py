"""Holding the mattes' pace: the ratio controller driven by synthetic timings (cost grows with the ratio
squared), the control that applies it to a session, and the thread that compiles the ladder ahead."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

import livebg.live.ratio
from livebg.errors import UsageError
from livebg.live.ratio import (
    MAX_STRETCH,
    GraphPreparer,
    RatioControl,
    RatioController,
    floor_ratio,
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
    # The first step waits for a full median window (9 samples); the next also skips 2 settle samples.
    assert used.index(0.2812) == 9
    assert used.index(0.2109) == 9 + 2 + 9
    assert used[20:] == [0.2109] * (600 - 20)


def test_returns_the_new_ratio_only_when_it_changes() -> None:
    controller = RatioController(30, 0.375, window=1, settle_samples=0)
    assert controller.update(0.010) is None  # fast, and already at the top
    assert controller.update(0.050) == 0.2812
    assert controller.ratio == 0.2812


def test_steps_back_up_when_the_load_goes_away() -> None:
    controller = RatioController(30, 0.375)
    simulate(controller, cost_model(10, 350), 100)  # busy machine
    assert controller.ratio == 0.2109
    used, changes = simulate(controller, cost_model(5, 100), 400)  # the load is gone: 19 ms at 0.375
    assert controller.ratio == 0.375
    assert changes == 2
    # Raising needs hold_samples (12) of headroom once the window's median shows it: no hasty climb.
    assert used[:16] == [0.2109] * 16


def test_does_not_raise_without_clear_headroom() -> None:
    controller = RatioController(30, 0.375)
    simulate(controller, cost_model(10, 350), 100)
    # 24 ms at 0.2109: within budget but above 0.7 x budget; climbing would make 0.2812 too slow.
    used, changes = simulate(controller, lambda ratio: 0.024 if ratio < 0.25 else 0.040, 1000)
    assert changes == 0
    assert set(used) == {0.2109}


def test_a_rung_that_is_just_too_slow_is_retried_ever_less_often() -> None:
    controller = RatioController(30, 0.375, hold_samples=30, backoff_samples=150, max_backoff_samples=1800)
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
    controller = RatioController(30, 0.375, window=3, settle_samples=2)
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
        ({"target_rate": 0, "max_ratio": 0.5}, "target rate 0"),
        ({"target_rate": 30, "max_ratio": 1.5}, "ratio 1.5"),
        ({"target_rate": 30, "max_ratio": 0.5, "step": 1.0}, "step 1.0"),
        ({"target_rate": 30, "max_ratio": 0.5, "min_ratio": 0}, "minimum ratio 0"),
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
        control.update(session, (480, 640), 3 / 30)
        assert control.controller is not None and control.preparer is not None
        ladder, preparer = control.controller.ratios, control.preparer
        deadline = time.monotonic() + 30
        while not preparer.done and time.monotonic() < deadline:
            time.sleep(0.01)
        # Every other rung was compiled, for this frame size, in order.
        assert session.prepared == [(480, 640, r) for r in ladder[1:]]
        assert preparer.prepared == list(ladder[1:])
        for _ in range(9):  # one window of mattes at three times the interval, beyond the slack
            control.update(session, (480, 640), 3 / 30)
        assert ladder[0] == 0.5 and session.downsample_ratio in ladder[1:]


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


def test_the_control_waits_for_the_ladder_to_compile_before_it_judges_the_times() -> None:
    session = BlockingSession()
    session.set_downsample_ratio(0.5)
    with RatioControl(6) as control:  # six mattes a second: 167 ms each
        for _ in range(20):  # far too slow: compiles take the same cores
            control.update(session, (480, 640), 1.0)
        assert session.downsample_ratio == 0.5
        session.release.set()
        assert control.preparer is not None
        control.preparer.close()
        for _ in range(9):  # still too slow once it is done
            control.update(session, (480, 640), 1.0)
    assert session.downsample_ratio is not None and session.downsample_ratio < 0.5


def test_a_cpu_budget_lowers_the_ratio_though_the_pace_holds(monkeypatch: pytest.MonkeyPatch) -> None:
    session = FakeSession(everything_is_person)
    session.set_downsample_ratio(0.375)
    clock = [0.0]
    monkeypatch.setattr(livebg.live.ratio.time, "perf_counter", lambda: clock[0])
    with RatioControl(30, cpu_budget=1.0) as control:
        cpu = 0.0
        for _ in range(100):
            ratio = session.current_ratio(720, 1280)
            # 10 ms a matte in time (two cores at work), but 8 + 400 x ratio^2 ms of CPU in each 33 ms
            # interval: 64 ms at 0.375, beyond one core's 33 ms.
            clock[0] += 1 / 30
            cpu += (8 + 400 * ratio * ratio) / 1000
            control.update(session, (720, 1280), 0.010, cpu_time=cpu)
            if control.preparer is not None:
                control.preparer.close()
        assert control.controller is not None
    assert session.downsample_ratio is not None and session.downsample_ratio < 0.375
    assert (8 + 400 * session.downsample_ratio**2) / 1000 <= 1.0 / 30


def test_over_the_cpu_budget_the_pace_slows_before_the_size_and_comes_back_after_it() -> None:
    controller = RatioController(6, 0.5, min_ratio=0.25, step=0.5, cpu_budget=1.0)  # 167 ms a matte
    settings = [(controller.ratio, controller.stretch)]

    def feed(cpu_seconds: float, samples: int) -> None:
        for _ in range(samples):
            controller.update(0.05, cpu_seconds)  # 50 ms a matte: in time, whatever the CPU
            if (controller.ratio, controller.stretch) != settings[-1]:
                settings.append((controller.ratio, controller.stretch))

    feed(0.5, 300)  # three cores' CPU per interval against a budget of one, at every setting
    paced = [stretch for ratio, stretch in settings if ratio == 0.5]
    assert paced == sorted(paced) and paced[-1] == MAX_STRETCH  # the pace slows, as far as allowed ...
    assert settings[-1] == (0.25, MAX_STRETCH)  # ... and only then does the size go down
    settings[:] = settings[-1:]
    feed(0.01, 600)  # the load is gone
    assert settings[1] == (0.5, MAX_STRETCH)  # the size comes back first ...
    assert settings[-1] == (0.5, 1.0)  # ... then the pace


def test_without_a_cpu_budget_a_slow_floor_does_not_slow_the_pace() -> None:
    controller = RatioController(6, 0.25, min_ratio=0.25)
    for _ in range(100):
        controller.update(1.0)  # six times the interval: the mattes come back to back instead
    assert controller.stretch == 1.0
