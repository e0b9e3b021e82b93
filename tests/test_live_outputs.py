"""Live outputs: the virtual camera and the recording get the picture the right way round (mirrored only
when asked), the placeholder goes everywhere while the camera is away, and the recording is finished when
live mode stops (also by Ctrl-C) and discarded when it fails."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from livebg.live.config import LiveConfig
from livebg.live.outputs import Outputs, placeholder_frame
from livebg.sources.camera import CaptureInfo

from .fakes import VCAM_BACKEND, SentFrames
from .media import read_frames, solid

INFO = CaptureInfo(160, 120, 30.0, "TEST", "test")


def halves() -> np.ndarray:
    """Red on the left, blue on the right."""
    picture = solid((255, 0, 0))
    picture[:, 80:] = (0, 0, 255)
    return picture


def config(tmp_path: Path, **kwargs: object) -> LiveConfig:
    options: dict[str, object] = {
        "window": False,
        "virtual_camera": True,
        "virtual_camera_backend": VCAM_BACKEND,
        "record": tmp_path / "live.mp4",
    }
    options.update(kwargs)
    return LiveConfig(**options)  # type: ignore[arg-type]


def left_is_red(picture: np.ndarray) -> bool:
    return bool(picture[:, :70, 0].min() > 200 and picture[:, :70, 2].max() < 60)


def wait_until(check: Callable[[], bool]) -> None:
    """Until ``check()`` holds (the virtual camera's sender picks pictures up at its own pace)."""
    deadline = time.monotonic() + 30
    while not check() and time.monotonic() < deadline:
        time.sleep(0.01)


@pytest.mark.parametrize("mirror", [False, True])
def test_the_shared_outputs_are_mirrored_only_when_asked(
    tmp_path: Path, vcam: SentFrames, mirror: bool
) -> None:
    with Outputs(config(tmp_path, mirror_output=mirror), INFO) as outputs:
        for _ in range(3):
            outputs.send(halves(), at=time.perf_counter())
        wait_until(lambda: any(f.any() for f in vcam.frames))
        assert outputs.picture is not None and left_is_red(outputs.picture)  # what snapshots save
    sent = [f for f in vcam.frames if f.any()]  # black before the first picture
    assert sent and all(left_is_red(f) != mirror for f in sent)
    recorded = read_frames(tmp_path / "live.mp4")
    assert len(recorded) == 3 and all(left_is_red(f) != mirror for f in recorded)


def test_the_placeholder_goes_to_every_output_and_is_never_a_snapshot(
    tmp_path: Path, vcam: SentFrames
) -> None:
    with Outputs(config(tmp_path), INFO) as outputs:
        outputs.send(halves(), at=time.perf_counter())
        outputs.send_placeholder()
        assert outputs.picture is None and outputs.placeholders == 1
        wait_until(lambda: any(f.mean() < 60 and f.max() > 150 for f in vcam.frames))
    recorded = read_frames(tmp_path / "live.mp4")
    assert len(recorded) == 2 and left_is_red(recorded[0])
    assert recorded[1].mean() < 60 and recorded[1].max() > 150  # dark, with the message


def test_ctrl_c_finishes_the_recording_and_an_error_discards_it(tmp_path: Path) -> None:
    with pytest.raises(KeyboardInterrupt), Outputs(config(tmp_path, virtual_camera=False), INFO) as outputs:
        outputs.send(halves(), at=time.perf_counter())
        raise KeyboardInterrupt
    assert len(read_frames(tmp_path / "live.mp4")) == 1

    other = config(tmp_path, virtual_camera=False, record=tmp_path / "failed.mp4")
    with pytest.raises(RuntimeError), Outputs(other, INFO) as outputs:
        outputs.send(halves(), at=time.perf_counter())
        raise RuntimeError("the model failed")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["live.mp4"]


def test_placeholder_is_dark_with_a_message() -> None:
    picture = placeholder_frame(120, 160)
    assert picture.shape == (120, 160, 3) and picture.dtype == np.uint8
    assert np.median(picture) < 40 and (picture > 150).sum() > 50
