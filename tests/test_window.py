"""The preview window, for real, under a virtual X server (Xvfb): screenshots show the composited
person over the chosen background, hotkeys sent with xdotool change what they show, and quitting (the
close button, q, Esc) ends the process with exit code 0.

Needs the packages xvfb, xdotool and imagemagick (`apt-get install xvfb xdotool imagemagick`); the tests
skip where they are missing. Xvfb has no window manager, so the close button is emulated by sending the
window the WM_DELETE_WINDOW message a window manager sends when its close button is clicked.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import os
import select
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from .media import solid, write_video

pytestmark = pytest.mark.display

LIVEBG = [sys.executable, "-m", "livebg"]
TOOLS = ("Xvfb", "xdotool", "import")


# --- the virtual display -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def display() -> Iterator[dict[str, str]]:
    """An Xvfb server of our own (black root window, no window manager) on a display number it chose
    itself (``-displayfd``), never one another program runs; yields the environment to use."""
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"needs {', '.join(missing)} (apt-get install xvfb xdotool imagemagick)")
    read_end, write_end = os.pipe()
    server = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_end), "-screen", "0", "640x480x24", "-br", "-nolisten", "tcp"],
        pass_fds=(write_end,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write_end)
    try:
        number = _read_display_number(read_end, timeout=10)
        if number is None:
            pytest.skip("Xvfb did not start")
        yield {**os.environ, "DISPLAY": f":{number}", "QT_QPA_PLATFORM": "xcb"}
    finally:
        os.close(read_end)
        server.terminate()
        server.wait(timeout=10)


def _read_display_number(fd: int, timeout: float) -> str | None:
    """The display number Xvfb writes to ``fd`` (a line) once it accepts connections."""
    text = b""
    deadline = time.monotonic() + timeout
    while not text.endswith(b"\n"):
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        chunk = os.read(fd, 64) if ready else b""
        if not chunk:
            return None  # timed out, or Xvfb exited
        text += chunk
    number = text.decode().strip()
    return number if number.isdigit() else None


class LiveWindow:
    """A `livebg webcam` process with its window on the virtual display."""

    def __init__(
        self, args: list[str], env: dict[str, str], cwd: Path, command: list[str] | None = None
    ) -> None:
        self.env = env
        # Its messages go to a file, not a pipe: a pipe nobody reads until the end can fill and stall it.
        self.log = cwd / "livebg-messages.txt"
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [*(command or [*LIVEBG, "webcam"]), *args],
                env=env,
                cwd=cwd,
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
        try:
            self.window = self._find_window(timeout=60)
        except AssertionError as exc:
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"{exc}; its messages:\n{self.stderr[-3000:]}") from None
        except BaseException:
            self.process.kill()
            raise

    @property
    def stderr(self) -> str:
        """What the process wrote to stderr so far."""
        return self.log.read_text(errors="replace")

    def _find_window(self, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"livebg exited early with code {self.process.returncode}")
            found = self.xdotool("search", "--name", "^livebg$", check=False).split()
            if found:
                return found[0]
            time.sleep(0.2)
        raise AssertionError("no livebg window appeared")

    def xdotool(self, *args: str, check: bool = True) -> str:
        result = subprocess.run(["xdotool", *args], env=self.env, capture_output=True, text=True, check=check)
        return result.stdout

    def key(self, name: str) -> None:
        self.xdotool("key", "--window", self.window, name)

    def screenshot(self) -> np.ndarray:
        """The window's area of the screen, ``uint8 (H, W, 3)`` RGB."""
        png = subprocess.run(
            ["import", "-window", "root", "png:-"], env=self.env, capture_output=True, check=True
        ).stdout
        rgb = cv2.cvtColor(cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        geometry = self.xdotool("getwindowgeometry", "--shell", self.window)
        values = dict(line.split("=") for line in geometry.split())
        x, y, w, h = (int(values[k]) for k in ("X", "Y", "WIDTH", "HEIGHT"))
        return rgb[y : y + h, x : x + w]

    def wait_for(self, check: Callable[[np.ndarray], bool], timeout: float = 60) -> np.ndarray:
        deadline = time.monotonic() + timeout
        while True:
            shot = self.screenshot()
            if check(shot):
                return shot
            if time.monotonic() > deadline or self.process.poll() is not None:
                state = "running" if self.process.poll() is None else f"exited with {self.process.returncode}"
                raise AssertionError(
                    f"the window never showed the expected picture (last: {describe(shot)}); livebg {state}, "
                    f"its messages:\n{self.stderr[-3000:]}"
                )
            time.sleep(0.25)

    def close_button(self) -> None:
        """What a window manager does when the close button is clicked: send WM_DELETE_WINDOW."""
        send_wm_delete(self.env["DISPLAY"], int(self.window))

    def wait(self, timeout: float = 20) -> int:
        try:
            return self.process.wait(timeout=timeout)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()


def send_wm_delete(display: str, window: int) -> None:
    xlib = ctypes.CDLL(ctypes.util.find_library("X11") or "libX11.so.6")
    xlib.XOpenDisplay.restype = ctypes.c_void_p
    xlib.XOpenDisplay.argtypes = [ctypes.c_char_p]
    xlib.XInternAtom.restype = ctypes.c_ulong
    xlib.XInternAtom.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
    xlib.XSendEvent.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_int, ctypes.c_long, ctypes.c_void_p]
    xlib.XFlush.argtypes = [ctypes.c_void_p]
    xlib.XCloseDisplay.argtypes = [ctypes.c_void_p]

    class ClientMessage(ctypes.Structure):
        _fields_ = [
            ("type", ctypes.c_int),
            ("serial", ctypes.c_ulong),
            ("send_event", ctypes.c_int),
            ("display", ctypes.c_void_p),
            ("window", ctypes.c_ulong),
            ("message_type", ctypes.c_ulong),
            ("format", ctypes.c_int),
            ("data", ctypes.c_long * 5),
        ]

    class Event(ctypes.Union):
        _fields_ = [("xclient", ClientMessage), ("pad", ctypes.c_long * 24)]

    connection = xlib.XOpenDisplay(display.encode())
    if not connection:
        raise AssertionError(f"cannot open display {display}")
    try:
        event = Event()
        event.xclient.type = 33  # ClientMessage
        event.xclient.window = window
        event.xclient.message_type = xlib.XInternAtom(connection, b"WM_PROTOCOLS", 0)
        event.xclient.format = 32
        event.xclient.data[0] = xlib.XInternAtom(connection, b"WM_DELETE_WINDOW", 0)
        xlib.XSendEvent(connection, window, 0, 0, ctypes.byref(event))
        xlib.XFlush(connection)
    finally:
        xlib.XCloseDisplay(connection)


# --- what a screenshot shows ----------------------------------------------------------------------------


def fraction(shot: np.ndarray, colour: tuple[int, int, int], tolerance: int = 50) -> float:
    return float((np.abs(shot.astype(int) - colour).max(axis=-1) <= tolerance).mean())


def greyscale(shot: np.ndarray) -> float:
    """Fraction of pixels whose channels agree (a matte shown as grey)."""
    spread = shot.max(axis=-1).astype(int) - shot.min(axis=-1)
    return float((spread <= 12).mean())


def describe(shot: np.ndarray) -> str:
    return (
        f"{shot.shape[1]}x{shot.shape[0]}, blue {fraction(shot, (0, 0, 255)):.2f}, "
        f"grey {greyscale(shot):.2f}, mean {shot.reshape(-1, 3).mean(axis=0).round()}"
    )


# --- tests ----------------------------------------------------------------------------------------------


def test_window_shows_the_person_over_the_background_and_obeys_hotkeys(
    display: dict[str, str], data_dir: Path, rvm_checkpoint: Path, tmp_path: Path
) -> None:
    clip = data_dir / "talking_head_man_plain_wall_480.mp4"
    args = ["--camera", str(clip), "--loop", "--width", "192", "--height", "192"]
    args += ["--background", "#0000ff", "--no-hud", "--weights", str(rvm_checkpoint), "--device", "cpu"]
    args += ["--target-fps", "off"]  # a busy machine would lower the ratio until the person vanishes
    live = LiveWindow(args, display, tmp_path)
    try:

        def composited(shot: np.ndarray) -> bool:
            # The wall is replaced by blue around the person; the person (hoodie, face) is not blue.
            return 0.3 < fraction(shot, (0, 0, 255)) < 0.85 and greyscale(shot) < 0.6

        shot = live.wait_for(composited, timeout=60)
        assert shot.shape[:2] == (192, 192)
        centre = shot[80:160, 64:128]  # face and shoulders
        assert fraction(centre, (0, 0, 255)) < 0.3
        assert fraction(shot[:, :24], (0, 0, 255)) > 0.8  # the wall at the left edge is gone

        live.key("a")  # the matte, in grey: white person, black background
        shot = live.wait_for(lambda s: greyscale(s) > 0.97)
        assert fraction(shot, (255, 255, 255), 40) > 0.1 and fraction(shot, (0, 0, 0), 40) > 0.3

        live.key("a")
        live.wait_for(composited)
        live.key("b")  # blur instead of blue: the blurred wall shows again
        live.wait_for(lambda s: fraction(s, (0, 0, 255)) < 0.02 and greyscale(s) < 0.97)
        live.key("b")
        live.wait_for(composited)

        live.key("s")
        deadline = time.monotonic() + 10
        while not (tmp_path / "livebg-0001.png").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        snapshot = cv2.imread(str(tmp_path / "livebg-0001.png"))
        assert snapshot is not None and snapshot.shape == (192, 192, 3)

        live.close_button()
        assert live.wait() == 0, live.stderr
    finally:
        if live.process.poll() is None:
            live.process.kill()
    assert "Traceback" not in live.stderr


@pytest.mark.parametrize("quit_key", ["q", "Escape"])
def test_quit_keys_end_cleanly_and_the_preview_is_mirrored(
    display: dict[str, str], tmp_path: Path, quit_key: str
) -> None:
    picture = solid((255, 0, 0), (96, 128))
    picture[:, 64:] = (0, 0, 255)  # red on the left, blue on the right
    clip = write_video(tmp_path / "halves.mp4", [picture] * 30, crf=8)
    live = LiveWindow(
        ["--camera", str(clip), "--loop", "--background", "none", "--no-hud"], display, tmp_path
    )
    try:

        def left_is(colour: tuple[int, int, int]) -> Callable[[np.ndarray], bool]:
            return lambda s: fraction(s[:, : s.shape[1] // 2], colour) > 0.9

        live.wait_for(left_is((0, 0, 255)))  # mirrored, as video-call previews are
        live.key("m")
        live.wait_for(left_is((255, 0, 0)))
        live.key(quit_key)
        assert live.wait() == 0, live.stderr
    finally:
        if live.process.poll() is None:
            live.process.kill()


DRIVER = """
import json, sys
import cv2  # before av: see PyAV issue #978
import numpy as np
import pyvirtualcam

record = {"frames": 0, "left": [], "size": None}


class Recorder:
    def __init__(self, *, width, height, fps, fourcc, device):
        record["size"] = [width, height]
        self._shape = (height, width, 3)

    def send(self, frame):
        picture = frame.reshape(self._shape)
        record["frames"] += 1
        record["left"] = [int(v) for v in picture[:, : self._shape[1] // 2].reshape(-1, 3).mean(axis=0)]

    def close(self):
        with open(sys.argv[1], "w") as f:
            json.dump(record, f)

    def device(self):
        return "recorder"

    def native_fourcc(self):
        return None


pyvirtualcam.register_backend("recorder", Recorder)
from livebg.cli import main

sys.exit(main(sys.argv[2:]))
"""


def test_window_and_virtual_camera_together(display: dict[str, str], tmp_path: Path) -> None:
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER)
    report = tmp_path / "virtual_camera.json"
    picture = solid((255, 0, 0), (96, 128))
    picture[:, 64:] = (0, 0, 255)
    clip = write_video(tmp_path / "halves.mp4", [picture] * 30, crf=8)
    args = ["--camera", str(clip), "--loop", "--background", "none", "--no-hud"]
    args += ["--virtual-camera", "--virtual-camera-backend", "recorder"]
    live = LiveWindow(args, display, tmp_path, command=[sys.executable, str(driver), str(report), "webcam"])
    try:
        live.wait_for(lambda s: fraction(s[:, : s.shape[1] // 2], (0, 0, 255)) > 0.9)  # preview mirrored
        time.sleep(1)
        live.key("q")
        assert live.wait() == 0, live.stderr
    finally:
        if live.process.poll() is None:
            live.process.kill()
    sent = json.loads(report.read_text())
    assert sent["size"] == [128, 96] and sent["frames"] >= 25
    red, green, blue = sent["left"]
    assert red > 230 and green < 25 and blue < 25  # the virtual camera is not mirrored: red on the left
