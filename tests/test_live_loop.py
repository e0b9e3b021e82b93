"""The live loop driven by small clips and scripted cameras: same-frame compositing, no queue behind a
slow model, ratio control, survival of an unplugged camera, recording, a clip that starts only once the
model is ready, and stopping (quit, end of clip, Ctrl-C, Ctrl-C twice) with the recording kept."""

from __future__ import annotations

import itertools
import json
import logging
import re
import subprocess
import sys
import time
from pathlib import Path

import av
import numpy as np
import pytest
import pyvirtualcam
import torch
from torch import Tensor

import livebg.live.loop
from livebg.errors import UsageError
from livebg.live import LiveConfig, run_live
from livebg.live.outputs import Outputs
from livebg.live.ratio import RatioController
from livebg.sources.camera import CameraSource, CaptureSettings

from .fakes import VCAM_BACKEND, FakeSession, ScriptedReader, SentFrames, everything_is_person, red_is_person
from .media import moving_square, probe, read_frames, solid, write_video

FPS = 30
REPO = Path(__file__).resolve().parent.parent
LADDER_SIZE = (360, 640)
"""Frames large enough for a ratio ladder: its floor (160 px on the longer side) is 0.25."""


def live_config(camera: Path | str, **kwargs: object) -> LiveConfig:
    options: dict[str, object] = {
        "window": False,
        "virtual_camera": True,
        "virtual_camera_backend": VCAM_BACKEND,
        "background": "#0000ff",
    }
    options.update(kwargs)
    return LiveConfig(capture=CaptureSettings(camera=str(camera)), **options)  # type: ignore[arg-type]


def count(picture: np.ndarray, colour: tuple[int, int, int], tolerance: int = 40) -> int:
    return int((np.abs(picture.astype(int) - colour).max(axis=-1) <= tolerance).sum())


def numbered(frames: int, size: tuple[int, int] = (120, 160)) -> list[np.ndarray]:
    """Pictures whose red level is 4 x their index (read back with :func:`index_of`), up to 64."""
    return [solid((4 * i, 0, 255), size) for i in range(frames)]


def index_of(src: Tensor) -> int:
    return round(float(src[0, 0].mean()) * 255 / 4)


# --- compositing live ----------------------------------------------------------------------------------


def test_every_frame_is_cut_out_with_its_own_pixels_and_the_newest_matte(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The network runs on the newest frame at its pace (here every 2nd frame's time); every camera
    frame reaches the outputs with its own colours and the newest matte made before it, the first with
    its own."""
    # 10 fps: a busy machine has 100 ms to take each frame before the next replaces it.
    source = CameraSource(lambda: ScriptedReader(numbered(12), fps=10), name="camera test")
    seen: list[int] = []

    def stripe(src: Tensor) -> Tensor:  # the person: the 4 + 4 x index leftmost columns
        seen.append(index_of(src))
        alpha = torch.zeros_like(src[:, :1])
        alpha[..., : 4 + 4 * seen[-1]] = 1
        return alpha

    sent: list[np.ndarray] = []
    send = Outputs.send
    monkeypatch.setattr(
        Outputs, "send", lambda self, picture, **kw: sent.append(picture) or send(self, picture, **kw)
    )
    session = FakeSession(stripe)
    config = live_config("test", virtual_camera=False, background="#00ff00", matte_every=2)
    stats = run_live(config, session=session, source=source)

    # Each output: the frame whose colour it shows, and the frame whose matte cut it out.
    shown = []
    for picture in sent:
        person = np.abs(picture[0].astype(int) - (0, 255, 0)).max(axis=-1) > 40
        shown.append((round(picture[0, 0, 0] / 4), (int(person.sum()) - 4) // 4))
    assert stats.frames == len(sent) == source.captured == 12  # none dropped, none skipped
    assert [frame for frame, _ in shown] == list(range(12))
    assert shown[0] == (0, 0)
    assert 3 <= len(seen) <= 7 and seen == sorted(set(seen))  # the newest frame, about every 2nd
    for frame, matte in shown:
        assert matte in seen and matte <= frame and frame - matte <= 4
    assert sum(stats.ratios.values()) == len({matte for _, matte in shown})  # each matte counted once
    assert session.foreground is False  # a held matte's colours would be another frame's


def test_virtual_camera_gets_rgb_in_order_at_steady_rate(tmp_path: Path, vcam: SentFrames) -> None:
    clip = write_video(tmp_path / "red.mp4", [solid((255, 0, 0))] * 30, crf=8)
    stats = run_live(live_config(clip), session=FakeSession(everything_is_person))

    # The virtual camera runs at the camera's rate (its pace is test_virtual_camera.py's business) and
    # sends each processed picture at most once, repeating the last one in between.
    assert stats.capture_fps == FPS and vcam.opened["fps"] == FPS
    assert vcam.opened["width"] == 160 and vcam.opened["height"] == 120
    assert vcam.opened["fourcc"] == pyvirtualcam.util.encode_fourcc(pyvirtualcam.PixelFormat.RGB.value)
    assert stats.virtual_camera_frames == len(vcam.frames) and vcam.closed == 1
    assert 1 <= stats.virtual_camera_frames - stats.virtual_camera_repeats <= stats.frames
    assert np.all(np.diff(vcam.times) > 0)
    red = vcam.frames[-1]
    assert red.shape == (120, 160, 3)
    assert red[..., 0].min() > 230 and red[..., 1:].max() < 25  # red arrives red, not blue


def test_a_model_slower_than_the_camera_slows_the_mattes_not_the_picture(vcam: SentFrames) -> None:
    source = CameraSource(lambda: ScriptedReader(numbered(60)), name="camera test")
    behind: list[int] = []

    delay = 0.1  # three frame intervals per matte

    def newest_only(src: Tensor) -> Tensor:
        # Frames the camera delivered after this one by the time the model gets it: a queue would make
        # this grow by two every matte here.
        behind.append(source.captured - (index_of(src) + 1))
        time.sleep(delay)
        return everything_is_person(src)

    session = FakeSession(newest_only)
    stats = run_live(live_config("test"), session=session, source=source)

    assert stats.captured >= 50
    assert session.calls <= stats.captured / 3 + 1  # the model saw a frame in three at most ...
    assert stats.frames >= stats.captured / 2  # ... but the picture kept the camera's pace
    # The model gets the newest frame: only the frames that arrive while it takes one (none or one, a
    # few on a busy machine), and that does not grow.
    third = len(behind) // 3
    assert np.median(behind[-third:]) <= np.median(behind[:third]) + 1, behind
    assert stats.latencies[0] >= delay  # the first picture waited for its own matte ...
    assert max(list(stats.latencies)[1:]) < delay  # ... no other waited for the model


# --- holding the mattes' pace -----------------------------------------------------------------------------


def test_target_fps_lowers_the_downsample_ratio(tmp_path: Path) -> None:
    clip = write_video(tmp_path / "red.mp4", [solid((255, 0, 0), LADDER_SIZE)] * 90, crf=8)
    session = FakeSession(everything_is_person)

    def slow_at_high_ratio(src: Tensor) -> Tensor:
        time.sleep(0.12 * (session.downsample_ratio or 1.0) ** 2)  # cost grows with the ratio squared
        return everything_is_person(src)

    session.alpha = slow_at_high_ratio
    config = live_config(clip, virtual_camera=False, target_fps=20, matte_every=1)  # a matte each 50 ms
    stats = run_live(config, session=session)
    assert session.downsample_ratio is not None and session.downsample_ratio <= 0.75
    # Every matte shown is counted at the ratio it was made at, starting from the session's own (the
    # last one made may end with live mode, unseen).
    ratios = list(stats.ratios)
    assert ratios[0] == 1.0 and ratios[-1] == session.downsample_ratio
    assert session.calls - 1 <= sum(stats.ratios.values()) <= session.calls


def test_by_default_live_mode_holds_the_cameras_rate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import livebg.live
    from livebg.cli import main

    configs: list[LiveConfig] = []
    monkeypatch.setattr(livebg.live, "run_live", lambda config: configs.append(config))
    for extra, expected in [([], "camera"), (["--target-fps", "off"], None), (["--target-fps", "24"], 24.0)]:
        assert main(["webcam", "--no-window", *extra]) == 0
        assert configs.pop().target_fps == expected
    assert main(["webcam", "--no-window", "--downsample-ratio", "0.5"]) == 0
    assert configs.pop().target_fps is None  # an explicit ratio is held

    clip = write_video(tmp_path / "red.mp4", [solid((255, 0, 0), LADDER_SIZE)] * 60, crf=8)  # 30 fps
    session = FakeSession(everything_is_person)
    session.alpha = lambda src: (  # 100 ms at ratio 1: three frames, beyond the slack of two
        time.sleep(0.1 * (session.downsample_ratio or 1.0)) or everything_is_person(src)
    )
    config = live_config(clip, virtual_camera=False, target_fps="camera", matte_every=1)
    stats = run_live(config, session=session)
    assert stats.capture_fps == 30
    assert session.downsample_ratio is not None and session.downsample_ratio < 1.0


def test_target_fps_prepares_the_lower_ratios_ahead_of_time(tmp_path: Path) -> None:
    """The starting ratio is prepared before capturing starts, every lower step of the ladder in a
    helper thread."""
    clip = write_video(tmp_path / "red.mp4", [solid((255, 0, 0), LADDER_SIZE)] * 20, crf=8)
    session = FakeSession(everything_is_person)
    run_live(live_config(clip, virtual_camera=False, target_fps=20), session=session)
    first, *ladder = session.prepared
    assert first == (*LADDER_SIZE, 1.0)
    ratios = [r for (_, _, r) in ladder]
    assert len(ratios) >= 3 and ratios == sorted(ratios, reverse=True) and max(ratios) < 1.0
    assert {(h, w) for (h, w, _) in session.prepared} == set(session.sizes)


def test_stopping_waits_for_the_ratio_being_compiled_not_the_rest_of_the_ladder() -> None:
    class SlowCompiles(FakeSession):
        def prepare(self, height: int, width: int, ratio: float | None = None) -> None:
            super().prepare(height, width, ratio)
            if ratio is not None and ratio < 1.0:  # the ladder, in the preparer's thread
                time.sleep(0.3)

    # Three frames, then the camera file ends: live mode stops right after it started.
    source = CameraSource(lambda: ScriptedReader([solid((255, 0, 0), LADDER_SIZE)] * 3), name="camera test")
    session = SlowCompiles(everything_is_person)
    stats = run_live(live_config("test", virtual_camera=False, target_fps=20), session=session, source=source)

    ladder = [r for (_, _, r) in session.prepared[1:]]
    assert stats.frames >= 1
    assert 1 <= len(ladder) <= 2  # the one in progress (two on a very busy machine), of five
    assert RatioController(20, 1.0, min_ratio=0.25).ratios[1 : 1 + len(ladder)] == tuple(ladder)


# --- unplugging ----------------------------------------------------------------------------------------


def test_unplugged_camera_keeps_outputs_alive_and_recovers(vcam: SentFrames) -> None:
    attempts: list[str] = []
    readers: list[ScriptedReader] = []

    def open_device() -> ScriptedReader:
        from livebg.errors import CameraError

        attempts.append("open")
        if len(attempts) == 1:
            readers.append(ScriptedReader([solid((255, 0, 0))] * 10, fail=True))
        elif len(attempts) <= 3:
            raise CameraError("camera test could not be opened")  # still unplugged
        else:
            readers.append(ScriptedReader([solid((0, 0, 255))] * 15, fail=False))
        return readers[-1]

    source = CameraSource(open_device, name="camera test", backoff=(0.1, 0.2))
    session = FakeSession(everything_is_person)
    stats = run_live(live_config("test", background="#00ff00"), session=session, source=source)

    assert len(attempts) == 4 and source.reconnects == 1 and readers[0].closed
    assert session.resets == 1 and stats.resets == 1
    assert stats.placeholders >= 2
    kinds = []
    for picture in vcam.frames:
        if count(picture, (255, 0, 0)) > 0.9 * picture[..., 0].size:
            kind = "red"
        elif count(picture, (0, 0, 255)) > 0.9 * picture[..., 0].size:
            kind = "blue"
        elif picture.mean() < 60 and picture.max() > 150:  # dark, with the message's text
            kind = "placeholder"
        else:
            kind = "other"
        if not kinds or kinds[-1] != kind:
            kinds.append(kind)
    assert kinds[-3:] == ["red", "placeholder", "blue"], kinds


def test_a_new_frame_size_resets_the_model_state() -> None:
    pictures = [solid((255, 0, 0))] * 8 + [solid((255, 0, 0), (240, 320))] * 8

    source = CameraSource(lambda: ScriptedReader(pictures, fail=False), name="camera test")
    session = FakeSession(everything_is_person)
    stats = run_live(live_config("test", virtual_camera=False), session=session, source=source)
    assert set(session.sizes) == {(120, 160), (240, 320)}
    assert session.resets == 1 and stats.resets == 1 and source.reconnects == 0


# --- recording and start-up ----------------------------------------------------------------------------


def test_record_writes_the_live_result(tmp_path: Path) -> None:
    clip = write_video(tmp_path / "red.mp4", [solid((255, 0, 0))] * 30, crf=8)
    out = tmp_path / "live.mp4"
    stats = run_live(
        live_config(clip, virtual_camera=False, record=out), session=FakeSession(everything_is_person)
    )
    assert out.is_file() and not [p for p in tmp_path.iterdir() if "partial" in p.name]
    found = probe(out)
    assert (found.width, found.height) == (160, 120)
    assert found.frames == stats.recorded == stats.frames >= 20
    # Real time, not frame count: each frame is stamped with the moment it was captured.
    times = np.array([float(t) for t in found.times])
    captured = np.array(stats.frame_times) - np.array(stats.latencies)
    assert times[0] == 0 and np.all(np.diff(times) > 0)
    assert np.diff(times) == pytest.approx(np.diff(captured), abs=2 / 90000)


def test_alpha_output_records_and_sends_the_matte_not_the_composite(tmp_path: Path, vcam: SentFrames) -> None:
    clip = write_video(tmp_path / "square.mp4", [moving_square(i) for i in range(24)], crf=8)
    out = tmp_path / "live.mp4"
    stats = run_live(
        live_config(clip, record=out, output_type="alpha"), session=FakeSession(red_is_person)
    )
    recorded = read_frames(out)
    assert len(recorded) == stats.recorded == stats.frames >= 12
    sent = [f for f in vcam.frames if f.any()]  # before the first frame the camera shows black
    assert sent
    for picture in recorded + sent:
        # The red square's matte in white on black: neither the blue background nor the clip's colours.
        assert count(picture, (255, 255, 255)) >= 0.8 * 32 * 32
        assert count(picture, (0, 0, 0)) >= 0.8 * (160 * 120 - 32 * 32)
        assert count(picture, (0, 0, 255), tolerance=100) == count(picture, (0, 255, 0), tolerance=100) == 0


def test_alpha_output_without_the_model_is_refused(tmp_path: Path) -> None:
    clip = write_video(tmp_path / "red.mp4", [solid((255, 0, 0))] * 3, crf=8)
    config = live_config(clip, virtual_camera=False, background="none", output_type="alpha")
    with pytest.raises(UsageError, match=r"^--output-type alpha needs the model, but --background none"):
        run_live(config, session=FakeSession(everything_is_person))


def test_a_clip_used_as_the_camera_starts_once_the_model_is_ready(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clip = write_video(tmp_path / "count.mp4", numbered(50))
    seen: list[int] = []
    session = FakeSession(lambda src: seen.append(index_of(src)) or everything_is_person(src))

    def load_slowly(config: object) -> FakeSession:
        time.sleep(1.0)  # a model that takes a second (30 frames of the clip) to load
        return session

    monkeypatch.setattr(livebg.live.loop, "create_session", load_slowly)
    out = tmp_path / "live.mp4"
    stats = run_live(live_config(clip, virtual_camera=False, record=out))

    assert seen[0] <= 2, seen  # the clip's first frames were processed, not played during loading
    assert seen == sorted(seen) and stats.frames >= 25  # of 50, on a busy machine too
    assert probe(out).frames == stats.recorded == stats.frames
    # Start-up is timed phase by phase, the model's second where it was spent.
    assert list(stats.startup) == ["camera", "outputs", "model", "compile", "window", "first frame"]
    assert stats.startup["model"] >= 1.0 > max(stats.startup["camera"], stats.startup["compile"])


def test_cli_webcam_runs_headless_with_the_real_model(
    tmp_path: Path, data_dir: Path, rvm_checkpoint: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from livebg.cli import main

    with av.open(str(data_dir / "talking_head_man_plain_wall_480.mp4")) as c:
        frames = itertools.islice(c.decode(video=0), 15)
        pictures = [f.to_ndarray(format="rgb24", width=128, height=128) for f in frames]
    clip = write_video(tmp_path / "talk.mp4", pictures, crf=8)
    out = tmp_path / "live.mp4"
    args = ["webcam", "--camera", str(clip), "--no-window", "--background", "#0000ff", "--record", str(out)]
    args += ["--weights", str(rvm_checkpoint), "--device", "cpu", "--backend", "torch"]
    args += ["--downsample-ratio", "0.5"]
    caplog.set_level(logging.INFO, logger="livebg")
    assert main(args) == 0

    summary = next(r.getMessage() for r in caplog.records if r.getMessage().startswith("live: "))
    startup = next(r.getMessage() for r in caplog.records if r.getMessage().startswith("first picture "))
    assert re.fullmatch(r"first picture [\d.]+ s after live mode started \(camera [\d.]+ s, .*\)", startup)
    processed = int(re.match(r"live: (\d+) frames", summary).group(1))  # type: ignore[union-attr]
    recorded = read_frames(out)
    assert len(recorded) == processed >= 1
    for picture in recorded:
        # The plain wall beside the man is replaced by blue; his face and shoulders are not.
        assert count(picture[:, :16], (0, 0, 255), tolerance=60) > 0.8 * 128 * 16
        assert count(picture[54:107, 43:85], (0, 0, 255), tolerance=60) < 0.1 * 53 * 42


# --- stopping ------------------------------------------------------------------------------------------


def test_ctrl_c_stops_like_quitting_and_keeps_the_recording(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clip = write_video(tmp_path / "red.mp4", [solid((255, 0, 0))] * 30, crf=8)
    sent = itertools.count(1)
    send = Outputs.send

    def interrupted_at_the_tenth_frame(self: Outputs, picture: np.ndarray, **kw: object) -> None:
        if next(sent) == 10:
            raise KeyboardInterrupt
        send(self, picture, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(Outputs, "send", interrupted_at_the_tenth_frame)
    out = tmp_path / "live.mp4"
    session = FakeSession(everything_is_person)
    stats = run_live(live_config(clip, virtual_camera=False, record=out), session=session)
    assert stats.frames == 9
    assert probe(out).frames == stats.recorded == 9
    assert sorted(p.name for p in tmp_path.iterdir()) == ["live.mp4", "red.mp4"]


def test_ctrl_c_while_the_model_loads_stops_before_capturing_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, vcam: SentFrames
) -> None:
    def interrupted(config: object) -> FakeSession:
        raise KeyboardInterrupt

    monkeypatch.setattr(livebg.live.loop, "create_session", interrupted)
    reader = ScriptedReader([solid((255, 0, 0))] * 5)
    source = CameraSource(lambda: reader, name="camera test")
    stats = run_live(live_config("test", record=tmp_path / "live.mp4"), source=source)
    assert stats.frames == 0 and source.captured == 0 and reader.closed
    assert vcam.closed == 1  # the outputs opened with the camera, and closed
    assert list(tmp_path.iterdir()) == []  # nothing was recorded, so nothing is left


DRIVER = """
import json, logging, os, signal, sys, time
import cv2  # before av: see PyAV issue #978
from pathlib import Path
from livebg.live import LiveConfig, run_live
from livebg.live.ratio import RatioController
from livebg.sinks import video_file
from livebg.sources.camera import CaptureSettings
from livebg.live.outputs import Outputs
from tests.fakes import FakeSession, everything_is_person

logging.basicConfig(level=logging.INFO, format="%(message)s")
# Ctrl-C as in a terminal, also where the tests run with SIGINT ignored (a background job, CI).
signal.signal(signal.SIGINT, signal.default_int_handler)
clip, out = sys.argv[1:3]
session = FakeSession(everything_is_person)
send, sent = Outputs.send, []

def interrupted_at_the_eighth(self, picture, **kw):
    sent.append(1)
    if len(sent) == 8:
        os.kill(os.getpid(), signal.SIGINT)  # the first Ctrl-C, while a frame is handed on
    send(self, picture, **kw)

Outputs.send = interrupted_at_the_eighth
finish = video_file.VideoFileSink.finish

def slow_finish(self):
    os.kill(os.getpid(), signal.SIGINT)  # the second Ctrl-C, while the recording is being finished
    time.sleep(0.3)
    finish(self)

video_file.VideoFileSink.finish = slow_finish
config = LiveConfig(
    capture=CaptureSettings(camera=clip), window=False, background="#0000ff", record=Path(out)
)
stats = run_live(config, session=session)
print(json.dumps({"frames": stats.frames, "recorded": stats.recorded}))
"""


def test_a_second_ctrl_c_during_shutdown_still_finishes_the_recording(tmp_path: Path) -> None:
    clip = write_video(tmp_path / "red.mp4", [solid((255, 0, 0))] * 60, crf=8)
    out = tmp_path / "live.mp4"
    command = [sys.executable, "-c", DRIVER, str(clip), str(out)]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr and "terminate called" not in done.stderr
    assert "stopped (Ctrl-C)" in done.stderr and "still stopping" in done.stderr
    stats = json.loads(done.stdout)
    assert stats["frames"] == 7, done.stderr
    assert out.is_file(), done.stderr + str(list(tmp_path.iterdir()))
    assert probe(out).frames == stats["recorded"] == 7
    assert sorted(p.name for p in tmp_path.iterdir()) == ["live.mp4", "red.mp4"]
