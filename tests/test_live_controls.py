"""What the hotkeys do in live mode: background cycling and blur, the view toggles, quitting, and
snapshots that never end the session (a missing folder is one warning line)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from livebg.backgrounds import bundled_backgrounds, parse_background
from livebg.compositing import Compositor
from livebg.live.controls import Controls
from livebg.live.outputs import Outputs
from livebg.sinks.window import Action

from .media import solid


class FakeOutputs:
    """The part of :class:`Outputs` the controls use: no window, the last picture."""

    window = None
    picture = solid((255, 0, 0))


def controls(tmp_path: Path, background: str = "#0000ff") -> Controls:
    outputs: Outputs = FakeOutputs()  # type: ignore[assignment]
    compositor = Compositor(parse_background(background))
    return Controls(compositor, outputs, background=background, hud=True, snapshot_dir=tmp_path)


def test_backgrounds_cycle_through_the_bundled_ones_and_blur_toggles(tmp_path: Path) -> None:
    bundled = bundled_backgrounds()
    if len(bundled) < 2:
        pytest.skip("needs the bundled backgrounds")
    control = controls(tmp_path)
    names = []
    for action in [Action.NEXT_BACKGROUND, Action.NEXT_BACKGROUND, Action.PREVIOUS_BACKGROUND]:
        assert control.handle([action])
        names.append(control.compositor.background.name)
    assert names == [bundled[0], bundled[1], bundled[0]]
    control.handle([Action.TOGGLE_BLUR])
    assert control.compositor.background.name.startswith("blur")
    control.handle([Action.TOGGLE_BLUR])  # back to where it was
    assert control.compositor.background.name == bundled[0]
    control.handle([Action.PREVIOUS_BACKGROUND])
    assert control.compositor.background.name == "#0000ff"  # the --background one comes first
    control.compositor.close()


def test_view_toggles_and_quit(tmp_path: Path) -> None:
    control = controls(tmp_path)
    assert (control.show_matte, control.paused, control.hud) == (False, False, True)
    assert control.handle([Action.TOGGLE_MATTE, Action.TOGGLE_PAUSE, Action.TOGGLE_HUD])
    assert (control.show_matte, control.paused, control.hud) == (True, True, False)
    assert control.handle([Action.TOGGLE_MIRROR, Action.TOGGLE_HELP])  # no window: nothing to flip
    assert not control.handle([Action.TOGGLE_PAUSE, Action.QUIT])
    assert not control.paused


def test_a_snapshot_into_a_missing_folder_is_a_warning_and_the_session_goes_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    control = controls(tmp_path / "gone")
    with caplog.at_level(logging.WARNING):
        assert control.handle([Action.SNAPSHOT])
    assert control.snapshots == []
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "could not save a snapshot" in warnings[0].getMessage()
    assert "\n" not in warnings[0].getMessage()

    (tmp_path / "gone").mkdir()  # the folder is back: the next snapshot works
    assert control.handle([Action.SNAPSHOT])
    assert control.snapshots == [tmp_path / "gone" / "livebg-0001.png"]
