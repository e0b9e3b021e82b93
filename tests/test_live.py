"""Live mode driven by small clips played as a camera: same-frame compositing, bounded latency with a
slow model, survival of an unplugged camera, recording, and `livebg cameras`."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import av
import numpy as np
import pytest
import pyvirtualcam
import torch
from torch import Tensor

from livebg.cameras import CameraMode, format_cameras, parse_v4l2_formats
from livebg.errors import CameraError, InputNotFoundError
from livebg.live import LiveConfig, placeholder_frame, run_live, save_snapshot
from livebg.matting.session import Matte
from livebg.sources.camera import CameraSource, CaptureInfo, CaptureSettings, open_reader

from .media import probe, write_video

FPS = 30
BACKEND = "livebg-test-recorder"


# --- helpers -------------------------------------------------------------------------------------------


def write_clip(path: Path, pictures: list[np.ndarray], rate: int = FPS) -> Path:
    """H.264 clip of the given ``uint8 (H, W, 3)`` RGB pictures at ``rate`` fps."""
    return write_video(path, pictures, rate=rate, crf=8)


def solid(colour: tuple[int, int, int], size: tuple[int, int] = (120, 160)) -> np.ndarray:
    return np.full((*size, 3), colour, np.uint8)


def moving_square(i: int, size: tuple[int, int] = (120, 160)) -> np.ndarray:
    """Green picture with a red 32x32 square that moves 8 px to the right per frame."""
    rgb = solid((0, 255, 0), size)
    x = (8 * i) % (size[1] - 32)
    rgb[40:72, x : x + 32] = (255, 0, 0)
    return rgb


class FakeSession:
    """A MattingSession whose matte is a function of the frame it is given; ``delay`` seconds each."""

    name = "fake"
    backend = "test"
    device = torch.device("cpu")
    dtype = torch.float32

    def __init__(self, alpha: Callable[[Tensor], Tensor], delay: float = 0.0) -> None:
        self.alpha = alpha
        self.delay = delay
        self.downsample_ratio: float | None = None
        self.resets = 0
        self.calls = 0
        self.sizes: list[tuple[int, int]] = []

    def __call__(self, src: Tensor) -> Matte:
        self.calls += 1
        self.sizes.append((src.shape[-2], src.shape[-1]))
        if self.delay:
            time.sleep(self.delay)
        return Matte(alpha=self.alpha(src))

    def reset(self) -> None:
        self.resets += 1

    def set_downsample_ratio(self, ratio: float | None) -> None:
        self.downsample_ratio = ratio

    def current_ratio(self, height: int, width: int) -> float:
        return self.downsample_ratio or 1.0

    def prepare(self, height: int, width: int, ratio: float | None = None) -> None:
        pass

    def fork(self) -> FakeSession:
        return FakeSession(self.alpha, self.delay)


def red_is_person(src: Tensor) -> Tensor:
    return (src[:, :1] > 0.5).to(src.dtype)


def everything_is_person(src: Tensor) -> Tensor:
    return torch.ones_like(src[:, :1])


class Sent:
    """What the recording virtual camera backend received."""

    def __init__(self) -> None:
        self.frames: list[np.ndarray] = []
        self.times: list[float] = []
        self.opened: dict[str, object] = {}
        self.closed = 0


@pytest.fixture()
def vcam() -> Iterator[Sent]:
    """A pyvirtualcam backend registered under ``BACKEND`` that records every frame sent to it."""
    sent = Sent()

    class RecordingBackend:
        def __init__(self, *, width: int, height: int, fps: float, fourcc: int, device: str | None) -> None:
            sent.opened = {"width": width, "height": height, "fps": fps, "fourcc": fourcc, "device": device}
            self._shape = (height, width, 3)

        def send(self, frame: np.ndarray) -> None:
            sent.times.append(time.perf_counter())
            sent.frames.append(frame.reshape(self._shape).copy())

        def close(self) -> None:
            sent.closed += 1

        def device(self) -> str:
            return "test-camera"

        def native_fourcc(self) -> int | None:
            return None

    pyvirtualcam.register_backend(BACKEND, RecordingBackend)
    yield sent
    pyvirtualcam.camera.BACKENDS.pop(BACKEND, None)


def live_config(camera: Path | str, **kwargs: object) -> LiveConfig:
    options: dict[str, object] = {
        "window": False,
        "virtual_camera": True,
        "virtual_camera_backend": BACKEND,
        "background": "#0000ff",
    }
    options.update(kwargs)
    return LiveConfig(capture=CaptureSettings(camera=str(camera)), **options)  # type: ignore[arg-type]


def count(picture: np.ndarray, colour: tuple[int, int, int], tolerance: int = 40) -> int:
    return int((np.abs(picture.astype(int) - colour).max(axis=-1) <= tolerance).sum())


# --- compositing live ----------------------------------------------------------------------------------


def test_matte_is_applied_to_the_frame_it_was_computed_from(tmp_path: Path, vcam: Sent) -> None:
    clip = write_clip(tmp_path / "square.mp4", [moving_square(i) for i in range(24)])
    session = FakeSession(red_is_person)
    stats = run_live(live_config(clip), session=session)

    assert stats.frames >= 12 and session.calls == stats.frames
    assert vcam.opened["width"] == 160 and vcam.opened["height"] == 120
    assert vcam.opened["fourcc"] == pyvirtualcam.util.encode_fourcc(pyvirtualcam.PixelFormat.RGB.value)
    outputs = [f for f in vcam.frames if f.any()]  # before the first frame the camera shows black
    assert outputs
    for picture in outputs:
        # Red square over the blue background; a matte from another frame would let the clip's green
        # show where the square was or will be.
        assert count(picture, (0, 255, 0), tolerance=100) == 0
        assert count(picture, (255, 0, 0)) >= 0.8 * 32 * 32
        assert count(picture, (0, 0, 255)) >= 0.8 * (160 * 120 - 32 * 32)


def test_virtual_camera_gets_rgb_in_order_at_steady_rate(tmp_path: Path, vcam: Sent) -> None:
    clip = write_clip(tmp_path / "red.mp4", [solid((255, 0, 0))] * 30)
    stats = run_live(live_config(clip), session=FakeSession(everything_is_person))

    # The clip lasts 1 s; the virtual camera sends at the camera's 30 fps whatever arrives.
    assert stats.capture_fps == FPS
    assert 20 <= len(vcam.frames) <= 40
    assert stats.virtual_camera_frames == len(vcam.frames) and vcam.closed == 1
    red = vcam.frames[-1]
    assert red.shape == (120, 160, 3)
    assert red[..., 0].min() > 230 and red[..., 1:].max() < 25  # red arrives red, not blue
    gaps = np.diff(vcam.times)
    assert abs(np.median(gaps) - 1 / FPS) < 0.2 / FPS
    assert gaps.max() < 4 / FPS


def test_latency_stays_bounded_when_the_model_is_slower_than_the_camera(tmp_path: Path, vcam: Sent) -> None:
    clip = write_clip(tmp_path / "red.mp4", [moving_square(i) for i in range(60)])
    delay = 0.1  # three frame intervals per frame
    session = FakeSession(red_is_person, delay=delay)
    stats = run_live(live_config(clip), session=session)

    assert stats.captured >= 50
    assert stats.frames <= stats.captured / 2  # the rest was dropped at capture ...
    latencies = np.array(stats.latencies)
    # ... never queued: the wait for the next frame plus the processing of one (and slack for a busy
    # machine). A queue would grow by 2/3 of a second per second here.
    assert np.median(latencies) < 2 / FPS + delay + 0.05, latencies
    assert latencies.max() < 2 / FPS + delay + 0.2, latencies
    third = len(latencies) // 3
    assert np.median(latencies[-third:]) < np.median(latencies[:third]) + 0.1  # no build-up over time
    # The virtual camera kept its pace by sending pictures again.
    assert stats.virtual_camera_repeats >= len(vcam.frames) / 2
    same = sum(np.array_equal(a, b) for a, b in zip(vcam.frames, vcam.frames[1:], strict=False))
    assert same >= len(vcam.frames) / 2
    assert abs(np.median(np.diff(vcam.times)) - 1 / FPS) < 0.2 / FPS


def test_target_fps_lowers_the_downsample_ratio(tmp_path: Path) -> None:
    clip = write_clip(tmp_path / "red.mp4", [solid((255, 0, 0))] * 60)
    session = FakeSession(everything_is_person)

    def slow_at_high_ratio(src: Tensor) -> Tensor:
        time.sleep(0.08 * (session.downsample_ratio or 1.0) ** 2)  # cost grows with the ratio squared
        return everything_is_person(src)

    session.alpha = slow_at_high_ratio
    run_live(live_config(clip, virtual_camera=False, target_fps=20), session=session)
    assert session.downsample_ratio is not None and session.downsample_ratio <= 0.75


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

    clip = write_clip(tmp_path / "red.mp4", [solid((255, 0, 0))] * 40)  # 30 fps
    session = FakeSession(everything_is_person)
    session.alpha = lambda src: (
        time.sleep(0.06 * (session.downsample_ratio or 1.0)) or everything_is_person(src)
    )
    stats = run_live(live_config(clip, virtual_camera=False, target_fps="camera"), session=session)
    assert stats.capture_fps == 30
    assert session.downsample_ratio is not None and session.downsample_ratio < 1.0


def test_target_fps_prepares_the_lower_ratios_ahead_of_time(tmp_path: Path) -> None:
    """Sessions that compile per ratio get every step of the ladder prepared in a helper thread."""
    clip = write_clip(tmp_path / "red.mp4", [solid((255, 0, 0))] * 20)
    session = FakeSession(everything_is_person)
    prepared: list[tuple[int, int, float]] = []
    session.prepare = lambda h, w, r: prepared.append((h, w, r))  # type: ignore[attr-defined]
    run_live(live_config(clip, virtual_camera=False, target_fps=20), session=session)
    ratios = [r for (_, _, r) in prepared]
    assert len(ratios) >= 3 and ratios == sorted(ratios, reverse=True) and max(ratios) < 1.0
    assert {(h, w) for (h, w, _) in prepared} == set(session.sizes)


# --- unplugging ----------------------------------------------------------------------------------------


class ScriptedReader:
    """A camera that delivers ``pictures`` at 30 fps, then raises (``fail``) or ends."""

    def __init__(self, pictures: list[np.ndarray], *, fail: bool) -> None:
        height, width = pictures[0].shape[:2]
        self.info = CaptureInfo(width, height, FPS, "TEST", "scripted")
        self._pictures = iter(pictures)
        self._fail = fail
        self.closed = False

    def read(self) -> np.ndarray | None:
        time.sleep(1 / FPS)
        picture = next(self._pictures, None)
        if picture is None and self._fail:
            raise OSError("device unplugged")
        return picture

    def close(self) -> None:
        self.closed = True


def test_unplugged_camera_keeps_outputs_alive_and_recovers(vcam: Sent) -> None:
    attempts: list[str] = []
    readers: list[ScriptedReader] = []

    def open_device() -> ScriptedReader:
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


def test_placeholder_is_dark_with_a_message() -> None:
    picture = placeholder_frame(120, 160)
    assert picture.shape == (120, 160, 3) and picture.dtype == np.uint8
    assert np.median(picture) < 40 and (picture > 150).sum() > 50


# --- capture ---------------------------------------------------------------------------------------------


def test_file_camera_plays_in_real_time_and_loops(tmp_path: Path) -> None:
    clip = write_clip(tmp_path / "red.mp4", [solid((255, 0, 0))] * 15)  # 0.5 s
    with CameraSource.from_settings(CaptureSettings(camera=str(clip), loop=True)) as source:
        assert source.info is not None and source.info.fps == FPS
        time.sleep(1.2)
        assert not source.ended
        assert 30 <= source.captured <= 40  # real time, through two restarts
        latest = source.wait_newer(0, timeout=1)
        assert latest is not None and latest.frame.rgb.shape == (120, 160, 3)
        assert latest.frame.rgb[..., 0].min() > 230  # RGB, not BGR

    with CameraSource.from_settings(CaptureSettings(camera=str(clip), width=80, height=60)) as source:
        started = time.perf_counter()
        while not source.ended and time.perf_counter() - started < 3:
            time.sleep(0.02)
        assert source.ended and source.captured == 15
        assert 0.4 < time.perf_counter() - started < 0.9
        latest = source.wait_newer(0, timeout=0)
        assert latest is not None and latest.frame.rgb.shape == (60, 80, 3)


def test_cameras_that_cannot_be_opened_say_so(tmp_path: Path) -> None:
    with pytest.raises(InputNotFoundError, match="livebg cameras"):
        open_reader(CaptureSettings(camera=str(tmp_path / "missing.mp4")))
    if Path("/dev/video9").exists():
        pytest.skip("a device 9 exists here")
    with pytest.raises(CameraError, match=r"camera 9 could not be opened; check it is connected"):
        open_reader(CaptureSettings(camera="9"))


def test_snapshots_are_numbered_and_never_overwrite(tmp_path: Path) -> None:
    (tmp_path / "livebg-0001.png").write_bytes(b"mine")
    first = save_snapshot(solid((255, 0, 0)), tmp_path)
    second = save_snapshot(solid((0, 0, 255)), tmp_path)
    assert (first.name, second.name) == ("livebg-0002.png", "livebg-0003.png")
    assert (tmp_path / "livebg-0001.png").read_bytes() == b"mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"livebg-000{n}.png" for n in (1, 2, 3)]
    with av.open(str(first)) as c:
        rgb = next(c.decode(video=0)).to_ndarray(format="rgb24")
    assert tuple(rgb[0, 0]) == (255, 0, 0)


# --- recording and the command line --------------------------------------------------------------------


def test_record_writes_the_live_result(tmp_path: Path) -> None:
    clip = write_clip(tmp_path / "red.mp4", [solid((255, 0, 0))] * 30)
    out = tmp_path / "live.mp4"
    stats = run_live(
        live_config(clip, virtual_camera=False, record=out), session=FakeSession(everything_is_person)
    )
    assert out.is_file() and not [p for p in tmp_path.iterdir() if "partial" in p.name]
    found = probe(out)
    assert (found.width, found.height) == (160, 120)
    assert found.frames == stats.recorded == stats.frames >= 20
    assert float(found.times[-1]) == pytest.approx(1.0, abs=0.25)  # real time, not frame count


def test_cli_webcam_runs_headless_with_the_real_model(tmp_path: Path, rvm_checkpoint: Path) -> None:
    from livebg.cli import main

    clip = write_clip(tmp_path / "red.mp4", [solid((200, 120, 90), (96, 128))] * 15)
    out = tmp_path / "live.mp4"
    args = ["webcam", "--camera", str(clip), "--no-window", "--background", "#0000ff", "--record", str(out)]
    args += ["--weights", str(rvm_checkpoint), "--device", "cpu", "--downsample-ratio", "0.5"]
    assert main(args) == 0
    assert probe(out).frames >= 1


# --- livebg cameras -------------------------------------------------------------------------------------

V4L2_OUTPUT = """ioctl: VIDIOC_ENUM_FMT
\tType: Video Capture

\t[0]: 'MJPG' (Motion-JPEG, compressed)
\t\tSize: Discrete 1280x720
\t\t\tInterval: Discrete 0.033s (30.000 fps)
\t\t\tInterval: Discrete 0.067s (15.000 fps)
\t\tSize: Discrete 640x480
\t\t\tInterval: Discrete 0.033s (30.000 fps)
\t[1]: 'YUYV' (YUYV 4:2:2)
\t\tSize: Discrete 640x480
\t\t\tInterval: Discrete 0.033s (30.000 fps)
\t\t\tInterval: Discrete 0.200s (5.000 fps)
"""


def test_v4l2_modes_are_parsed() -> None:
    assert parse_v4l2_formats(V4L2_OUTPUT) == (
        CameraMode("MJPG", 1280, 720, (30.0, 15.0)),
        CameraMode("MJPG", 640, 480, (30.0,)),
        CameraMode("YUYV", 640, 480, (30.0, 5.0)),
    )
    assert parse_v4l2_formats("ioctl: VIDIOC_ENUM_FMT\n\tType: Video Capture\n") == ()


def test_cameras_listing_reads_clearly() -> None:
    from livebg.cameras import CameraDevice

    text = format_cameras([CameraDevice("/dev/video0", "Integrated Webcam", parse_v4l2_formats(V4L2_OUTPUT))])
    assert text.splitlines()[:2] == ["/dev/video0: Integrated Webcam", "    MJPG 1280x720 @ 30, 15 fps"]
    assert "no cameras found" in format_cameras([])


def test_cli_cameras_exits_zero(capsys: pytest.CaptureFixture[str]) -> None:
    from livebg.cli import main

    assert main(["cameras", "--no-probe"]) == 0
    assert capsys.readouterr().out.strip()
