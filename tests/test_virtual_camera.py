"""The virtual camera sink: RGB in the right order, the camera's size, a steady rate with repeats, and
a clear message (with the command to run) when no driver is present."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from livebg.errors import UsageError, VirtualCameraError
from livebg.sinks.virtual_camera import LINUX_DRIVER_COMMAND, VirtualCameraSink, driver_instructions

from .fakes import VCAM_BACKEND as BACKEND
from .fakes import SentFrames as Sent
from .media import solid, write_video

FPS = 30


def no_loopback_driver() -> bool:
    return sys.platform == "linux" and not Path("/sys/module/v4l2loopback").exists()


def test_frames_arrive_rgb_at_the_camera_size_and_a_steady_rate(vcam: Sent) -> None:
    with VirtualCameraSink(160, 120, FPS, backend=BACKEND) as cam:
        assert (cam.width, cam.height, cam.fps, cam.backend, cam.device) == (
            160,
            120,
            FPS,
            BACKEND,
            "test-camera",
        )
        cam.submit(solid((255, 0, 0), (240, 320)))  # another size: scaled to the camera's
        time.sleep(0.5)
        cam.submit(solid((0, 0, 255), (120, 160)))
        time.sleep(0.3)
    assert vcam.closed == 1
    assert 20 <= len(vcam.frames) <= 30 and cam.frames_sent == len(vcam.frames)
    assert all(f.shape == (120, 160, 3) for f in vcam.frames)
    colours = [tuple(int(v) for v in f[60, 80]) for f in vcam.frames]
    red, blue = colours.index((255, 0, 0)), colours.index((0, 0, 255))
    assert red <= 1 and set(colours[red:blue]) == {(255, 0, 0)} and set(colours[blue:]) == {(0, 0, 255)}
    # Two pictures were submitted; everything else was a repeat, sent on time all the same.
    assert cam.repeats >= len(vcam.frames) - 3
    gaps = np.diff(vcam.times)
    assert abs(np.median(gaps) - 1 / FPS) < 0.15 / FPS and gaps.max() < 3 / FPS


def test_close_is_idempotent(vcam: Sent) -> None:
    cam = VirtualCameraSink(64, 48, 10, backend=BACKEND)
    cam.close()
    cam.close()
    assert vcam.closed == 1


def test_it_keeps_the_sink_contract(vcam: Sent) -> None:
    with VirtualCameraSink(64, 48, FPS, backend=BACKEND) as cam:
        cam.write(solid((0, 255, 0), (48, 64)), time=0.0, pts=0)
        deadline = time.monotonic() + 5
        while not any(tuple(f[24, 32]) == (0, 255, 0) for f in vcam.frames) and time.monotonic() < deadline:
            time.sleep(0.01)
    assert cam.finished and vcam.closed == 1
    assert any(tuple(int(v) for v in f[24, 32]) == (0, 255, 0) for f in vcam.frames)
    sent = len(vcam.frames)
    cam.close()
    time.sleep(3 / FPS)
    assert vcam.closed == 1 and len(vcam.frames) == sent  # closed once, and nothing sent after


def test_unknown_backend_lists_the_known_ones() -> None:
    with pytest.raises(UsageError, match="unknown virtual camera backend 'nope'; available:"):
        VirtualCameraSink(64, 48, 30, backend="nope")


@pytest.mark.skipif(not no_loopback_driver(), reason="needs Linux without the v4l2loopback driver")
def test_missing_driver_says_how_to_load_it() -> None:
    with pytest.raises(VirtualCameraError) as caught:
        VirtualCameraSink(160, 120, 30, backend="v4l2loopback")
    message = str(caught.value)
    assert "\n" not in message
    assert "v4l2loopback" in message and LINUX_DRIVER_COMMAND in message
    assert "exclusive_caps=1" in message and 'card_label="livebg"' in message


def test_instructions_per_system() -> None:
    assert "sudo modprobe v4l2loopback" in driver_instructions("Linux")
    for system in ("Windows", "Darwin"):
        text = driver_instructions(system)
        assert "OBS" in text and "Virtual Camera" in text and "modprobe" not in text


@pytest.mark.skipif(not no_loopback_driver(), reason="needs Linux without the v4l2loopback driver")
def test_cli_without_driver_exits_nonzero_with_one_line(tmp_path: Path) -> None:
    clip = write_video(tmp_path / "red.mp4", [solid((255, 0, 0))] * 5, crf=8)
    result = subprocess.run(
        [sys.executable, "-m", "livebg", "webcam", "--camera", str(clip), "--no-window", "--virtual-camera"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("livebg: error:")]
    assert len(errors) == 1
    assert "no virtual camera is available" in errors[0] and LINUX_DRIVER_COMMAND in errors[0]
