"""Listing capture devices and their modes for ``livebg cameras``.

Linux: the ``/dev/video*`` nodes, named from sysfs, with modes from ``v4l2-ctl --list-formats-ext``
when that tool is installed, else from asking OpenCV for a few common sizes. Elsewhere the platform
gives OpenCV no names: indices 0-9 are probed.
"""

from __future__ import annotations

import logging
import platform
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import cv2

from livebg.sources.camera import decode_fourcc, opencv_backend, quiet_opencv

log = logging.getLogger(__name__)

_PROBE_SIZES = ((640, 480), (1280, 720), (1920, 1080))
_PROBE_INDICES = range(10)


@dataclass(frozen=True)
class CameraMode:
    """One way a camera can deliver pictures: ``pixel_format`` (FourCC such as ``MJPG``, ``YUYV``, or
    ``None`` when unknown), size in pixels and the frame rates offered (empty when unknown)."""

    pixel_format: str | None
    width: int
    height: int
    fps: tuple[float, ...] = ()

    def describe(self) -> str:
        rates = ", ".join(f"{r:g}" for r in self.fps)
        fmt = f"{self.pixel_format} " if self.pixel_format else ""
        return f"{fmt}{self.width}x{self.height}" + (f" @ {rates} fps" if rates else "")


@dataclass(frozen=True)
class CameraDevice:
    """A capture device: ``camera`` is what to pass to ``--camera`` (an index or a device path)."""

    camera: str
    name: str
    modes: tuple[CameraMode, ...] = ()


def list_cameras(*, probe: bool = True) -> list[CameraDevice]:
    """The capture devices found; ``probe`` allows opening them to learn their modes."""
    if platform.system() == "Linux":
        return _linux_cameras(probe)
    return _probed_cameras() if probe else []


def format_cameras(devices: list[CameraDevice]) -> str:
    """Human-readable listing, one device per paragraph."""
    if not devices:
        return "no cameras found (none connected, or no permission to open them)"
    lines = []
    for device in devices:
        lines.append(f"{device.camera}: {device.name}")
        lines += [f"    {mode.describe()}" for mode in device.modes] or ["    (modes unknown)"]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------------
# Linux


def _linux_cameras(probe: bool) -> list[CameraDevice]:
    nodes = sorted(Path("/dev").glob("video*"), key=lambda p: _node_number(p.name))
    v4l2_ctl = shutil.which("v4l2-ctl")
    devices = []
    for node in nodes:
        name = _sysfs_name(node.name) or node.name
        if v4l2_ctl is not None:
            modes = _v4l2_modes(v4l2_ctl, node)
            if modes is None:
                continue  # not a capture node (metadata nodes come in pairs with each camera)
        else:
            modes = _opencv_modes(str(node)) if probe else ()
        devices.append(CameraDevice(str(node), name, modes))
    return devices


def _node_number(name: str) -> int:
    digits = name.removeprefix("video")
    return int(digits) if digits.isdigit() else 1 << 30


def _sysfs_name(node: str) -> str | None:
    try:
        return Path("/sys/class/video4linux", node, "name").read_text().strip() or None
    except OSError:
        return None


def _v4l2_modes(tool: str, node: Path) -> tuple[CameraMode, ...] | None:
    """Modes from ``v4l2-ctl``; ``None`` when the node offers no capture format."""
    try:
        result = subprocess.run(
            [tool, "--device", str(node), "--list-formats-ext"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.debug("v4l2-ctl on %s failed: %s", node, exc)
        return ()
    if result.returncode != 0:
        log.debug("v4l2-ctl on %s: %s", node, result.stderr.strip())
        return ()
    modes = parse_v4l2_formats(result.stdout)
    return modes or None


_FORMAT = re.compile(r"^\s*\[\d+\]:\s*'([^']+)'")
_SIZE = re.compile(r"^\s*Size:\s*\w+\s+(\d+)x(\d+)")
_INTERVAL = re.compile(r"^\s*Interval:.*\(([\d.]+)\s*fps\)")


def parse_v4l2_formats(text: str) -> tuple[CameraMode, ...]:
    """The modes in ``v4l2-ctl --list-formats-ext`` output, in its order."""
    modes: list[CameraMode] = []
    fmt: str | None = None
    size: tuple[int, int] | None = None
    rates: list[float] = []

    def flush() -> None:
        if size is not None:
            modes.append(CameraMode(fmt, size[0], size[1], tuple(rates)))

    for line in text.splitlines():
        if m := _FORMAT.match(line):
            flush()
            fmt, size, rates = m.group(1).strip(), None, []
        elif m := _SIZE.match(line):
            flush()
            size, rates = (int(m.group(1)), int(m.group(2))), []
        elif (m := _INTERVAL.match(line)) and size is not None:
            rates.append(float(m.group(1)))
    flush()
    return tuple(modes)


# ---------------------------------------------------------------------------------------------------
# OpenCV probing (no v4l2-ctl, macOS, Windows)


def _probed_cameras() -> list[CameraDevice]:
    devices = []
    for index in _PROBE_INDICES:
        modes = _opencv_modes(index)
        if modes:
            devices.append(CameraDevice(str(index), f"camera {index}", modes))
    return devices


def _opencv_modes(device: int | str) -> tuple[CameraMode, ...]:
    """Ask the camera for a few common sizes and keep the distinct ones it actually delivers."""

    with quiet_opencv():
        cap = cv2.VideoCapture(device, opencv_backend())
    try:
        if not cap.isOpened():
            return ()
        found: dict[tuple[int, int], CameraMode] = {}
        for width, height in _PROBE_SIZES:
            cap.set(cv2.CAP_PROP_FRAME_WIDTH, width)
            cap.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
            got = (int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)))
            if got[0] > 0 and got not in found:
                fps = cap.get(cv2.CAP_PROP_FPS)
                fmt = decode_fourcc(cap.get(cv2.CAP_PROP_FOURCC))
                found[got] = CameraMode(fmt, got[0], got[1], (round(fps, 2),) if fps > 0 else ())
        return tuple(found.values())
    finally:
        cap.release()
