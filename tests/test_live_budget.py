"""The CPU budget: reading ``--cpu-budget``, the inference threads it allows, and how full a frame's
allowance is (fed synthetic times, no clocks)."""

from __future__ import annotations

import pytest

from livebg.errors import UsageError
from livebg.live.budget import check_cpu_budget, frame_load, inference_threads, parse_cpu_budget


def test_a_budget_is_cores_or_a_share_of_the_machine() -> None:
    assert parse_cpu_budget("1", cores=2) == 1.0
    assert parse_cpu_budget("1.5", cores=2) == 1.5
    assert parse_cpu_budget("50%", cores=2) == 1.0
    assert parse_cpu_budget("25%", cores=8) == 2.0
    assert parse_cpu_budget("100%", cores=2) == 2.0


@pytest.mark.parametrize("text", ["0", "-1", "300%", "3", "abc", "", "nan", "inf", "0%"])
def test_a_budget_of_nothing_or_beyond_the_machine_is_refused(text: str) -> None:
    with pytest.raises(
        UsageError, match=rf"^--cpu-budget {text} is not accepted; give cores, above 0 and at most"
    ):
        parse_cpu_budget(text, cores=2)


def test_a_budget_given_as_a_number_is_checked_too() -> None:
    check_cpu_budget(None, cores=2)
    check_cpu_budget(0.5, cores=2)
    for budget in (0, -1.0, 2.5, "1"):
        with pytest.raises(UsageError, match=rf"^CPU budget {budget!r} is not accepted"):
            check_cpu_budget(budget, cores=2)  # type: ignore[arg-type]


def test_inference_gets_the_budgets_whole_cores_and_at_least_one() -> None:
    assert inference_threads(None) is None
    assert [inference_threads(b) for b in (0.5, 1.0, 1.5, 2.0, 3.9)] == [1, 1, 1, 2, 3]


def test_the_load_is_the_fuller_of_time_and_cpu() -> None:
    frame = 1 / 30
    assert frame_load(0.010, None, frame, 1.0) == pytest.approx(0.3)  # CPU not measured: time alone
    assert frame_load(0.010, 0.050, frame, None) == pytest.approx(0.3)  # no budget: time alone
    # 50 ms of CPU in a frame of 33 ms on a budget of one core: 1.5 full; of two cores: 0.75.
    assert frame_load(0.010, 0.050, frame, 1.0) == pytest.approx(1.5)
    assert frame_load(0.010, 0.050, frame, 2.0) == pytest.approx(0.75)
    assert frame_load(0.040, 0.020, frame, 1.0) == pytest.approx(1.2)  # too slow, though within budget
