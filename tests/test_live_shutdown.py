"""A shutdown step that a second Ctrl-C cannot cut short."""

from __future__ import annotations

import pytest

from livebg.live.shutdown import uninterrupted


def test_a_step_interrupted_by_ctrl_c_is_repeated_to_its_end(caplog: pytest.LogCaptureFixture) -> None:
    calls: list[int] = []

    def finish() -> None:
        calls.append(len(calls))
        if len(calls) < 3:
            raise KeyboardInterrupt  # Ctrl-C twice while waiting

    uninterrupted(finish)()
    assert calls == [0, 1, 2]
    assert caplog.text.count("still stopping") == 2


def test_other_errors_are_not_swallowed() -> None:
    def broken() -> None:
        raise OSError("disk gone")

    with pytest.raises(OSError, match="disk gone"):
        uninterrupted(broken)()
