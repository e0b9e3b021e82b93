"""Live capture: a clip played as a camera paces itself in real time, loops, starts its clock only when
capturing starts, and cameras that cannot be opened say so in one sentence."""

from __future__ import annotations

import gc
import os
import time
from pathlib import Path

import numpy as np
import pytest

from livebg.errors import CameraError, InputNotFoundError
from livebg.frames import Frame
from livebg.sources.camera import CameraSource, CaptureSettings, open_reader

from .media import solid, write_video

FPS = 30


def take_every_frame(source: CameraSource, until: int) -> list[Frame]:
    """The frames of ``source`` as they arrive, until ``until`` were captured or the stream ended."""
    frames: list[Frame] = []
    deadline = time.monotonic() + 30
    while source.captured < until and not source.ended and time.monotonic() < deadline:
        latest = source.wait_newer(frames[-1].index if frames else 0, timeout=1)
        if latest is not None:
            frames.append(latest.frame)
    return frames


def test_file_camera_plays_in_real_time_and_loops(tmp_path: Path) -> None:
    clip = write_video(tmp_path / "red.mp4", [solid((255, 0, 0))] * 15, crf=8)  # 0.5 s
    with CameraSource.from_settings(CaptureSettings(camera=str(clip), loop=True)) as source:
        assert source.info is not None and source.info.fps == FPS
        frames = take_every_frame(source, until=35)
        assert not source.ended and source.captured >= 35  # through two restarts
        latest = source.wait_newer(0, timeout=1)
        assert latest is not None and latest.frame.rgb.shape == (120, 160, 3)
        assert latest.frame.rgb[..., 0].min() > 230  # RGB, not BGR
    # Real time: a frame interval apart, also across the restarts.
    times = np.array([f.time for f in frames])
    assert np.all(np.diff(times) > 0)
    assert np.median(np.diff(times) / np.diff([f.index for f in frames])) == pytest.approx(1 / FPS, rel=0.25)

    with CameraSource.from_settings(CaptureSettings(camera=str(clip), width=80, height=60)) as source:
        frames = take_every_frame(source, until=100)
        assert source.ended and source.captured == 15
        latest = source.wait_newer(0, timeout=0)
        assert latest is not None and latest.frame.rgb.shape == (60, 80, 3)
    times = np.array([f.time for f in frames])
    assert np.median(np.diff(times) / np.diff([f.index for f in frames])) == pytest.approx(1 / FPS, rel=0.25)


def test_a_looping_clip_does_not_pile_up_decoders(tmp_path: Path) -> None:
    # Each pass reopens the file; the last pass's decoder (and its threads) must go with it, without
    # waiting for the garbage collector (live mode may loop a clip for hours).
    clip = write_video(tmp_path / "short.mp4", [solid((0, 0, 255 - 20 * i)) for i in range(4)], rate=120)
    reader = open_reader(CaptureSettings(camera=str(clip), loop=True))
    gc.disable()
    try:
        for _ in range(4 + 1):  # into the second pass: one decoder running
            assert reader.read() is not None
        threads = len(os.listdir("/proc/self/task"))
        for _ in range(4 * 6):  # six more passes
            assert reader.read() is not None
        assert len(os.listdir("/proc/self/task")) <= threads
    finally:
        gc.enable()
        reader.close()


def test_a_clip_opened_as_the_camera_starts_playing_only_when_capturing_starts(tmp_path: Path) -> None:
    pictures = [solid((8 * i, 0, 255)) for i in range(10)]
    clip = write_video(tmp_path / "count.mp4", pictures, crf=0)
    source = CameraSource.from_settings(CaptureSettings(camera=str(clip)))
    try:
        info = source.open()
        assert (info.width, info.height, info.fps) == (160, 120, FPS)
        time.sleep(0.5)  # fifteen frame intervals: a running clip would be past its end
        assert source.captured == 0 and source.wait_newer(0, timeout=0) is None
        source.start()
        first = source.wait_newer(0, timeout=5)
        assert first is not None and first.frame.index == 1
        assert first.frame.rgb[..., 0].mean() <= 4  # the clip's first picture (red level 0)
    finally:
        source.close()


def test_cameras_that_cannot_be_opened_say_so(tmp_path: Path) -> None:
    with pytest.raises(InputNotFoundError, match="livebg cameras"):
        open_reader(CaptureSettings(camera=str(tmp_path / "missing.mp4")))
    if Path("/dev/video9").exists():
        pytest.skip("a device 9 exists here")
    with pytest.raises(CameraError, match=r"camera 9 could not be opened; check it is connected"):
        open_reader(CaptureSettings(camera="9"))
