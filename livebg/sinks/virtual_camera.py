"""The virtual camera that video-call programs pick up, fed through pyvirtualcam at a steady rate.

A sender thread of its own sends at the camera's frame rate whatever picture is newest; when processing
falls behind, the previous picture is sent again, so the consumer sees a steady stream.
"""

from __future__ import annotations

import logging
import platform
import threading
import time

import cv2
import numpy as np

from livebg.errors import MissingDependencyError, UsageError, VirtualCameraError
from livebg.sinks.base import SinkBase

log = logging.getLogger(__name__)

LINUX_DRIVER_COMMAND = 'sudo modprobe v4l2loopback devices=1 exclusive_caps=1 card_label="livebg"'


def driver_instructions(system: str | None = None) -> str:
    """How to get a virtual camera driver on ``system`` (``platform.system()`` by default)."""
    system = system or platform.system()
    if system == "Linux":
        return (
            "load the v4l2loopback driver (package v4l2loopback-dkms) with: "
            f"{LINUX_DRIVER_COMMAND}, then run livebg again"
        )
    return (
        "install OBS Studio (https://obsproject.com) and start its Virtual Camera once "
        "(Start Virtual Camera, then stop it and close OBS), then run livebg again"
    )


class VirtualCameraSink(SinkBase):
    """Sends ``uint8 (H, W, 3)`` RGB pictures to a virtual camera at ``fps``; a sink (see
    :mod:`livebg.sinks.base`): ``finish()`` has nothing to complete, ``close()`` stops the camera.

    ``backend``/``device`` choose a pyvirtualcam backend and device (``None``: the first that works).
    Pictures of another size are scaled to the camera's size. ``write()`` (or ``submit()``) never
    blocks; the sender thread paces itself on its own clock. Raises :class:`VirtualCameraError` with
    per-OS instructions when no virtual camera driver is present.
    """

    def __init__(
        self,
        width: int,
        height: int,
        fps: float,
        *,
        backend: str | None = None,
        device: str | None = None,
    ) -> None:
        try:
            import pyvirtualcam
        except ImportError:
            raise MissingDependencyError(
                "the virtual camera needs pyvirtualcam; install it with: pip install pyvirtualcam"
            ) from None
        if backend is not None and backend not in pyvirtualcam.camera.BACKENDS:
            known = ", ".join(sorted(pyvirtualcam.camera.BACKENDS)) or "none on this system"
            raise UsageError(f"unknown virtual camera backend {backend!r}; available: {known}")
        if fps <= 0:
            raise UsageError(f"virtual camera frame rate {fps} is not positive; pass e.g. --fps 30")
        try:
            self._cam = pyvirtualcam.Camera(
                width, height, fps, fmt=pyvirtualcam.PixelFormat.RGB, backend=backend, device=device
            )
        except RuntimeError as exc:
            raise VirtualCameraError(_no_driver_message(exc, device)) from None
        self.width = self._cam.width
        self.height = self._cam.height
        self.fps = float(self._cam.fps)
        self.backend = self._cam.backend
        self.device = self._cam.device
        log.info(
            "virtual camera %s (%s): %dx%d at %.4g fps",
            self.device,
            self.backend,
            self.width,
            self.height,
            self.fps,
        )
        self.frames_sent = 0
        self.repeats = 0  # frames sent again because no newer picture had arrived
        self._latest: np.ndarray | None = None
        self._fresh = False
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="livebg-virtual-camera", daemon=True)
        self._thread.start()

    def write(self, image: np.ndarray, *, time: float | None = None, pts: int | None = None) -> None:
        """Offer the newest picture (``time`` and ``pts`` are unused: the camera runs on its own clock)."""
        self.submit(image)

    def submit(self, rgb: np.ndarray) -> None:
        """Offer the newest picture; it replaces one not yet sent. Re-raises a failure of the sender."""
        if self._error is not None:
            raise VirtualCameraError(f"the virtual camera stopped: {self._error}")
        if rgb.shape[:2] != (self.height, self.width):
            rgb = cv2.resize(rgb, (self.width, self.height), interpolation=cv2.INTER_AREA)
        with self._lock:
            self._latest = np.ascontiguousarray(rgb)
            self._fresh = True

    def _run(self) -> None:
        interval = 1 / self.fps
        black = np.zeros((self.height, self.width, 3), np.uint8)
        next_due = time.perf_counter()
        try:
            while not self._stop.is_set():
                with self._lock:
                    picture = self._latest if self._latest is not None else black
                    repeated = not self._fresh
                    self._fresh = False
                self._cam.send(picture)
                self.frames_sent += 1
                self.repeats += repeated
                next_due += interval
                delay = next_due - time.perf_counter()
                if delay < -interval:
                    # The sender itself fell behind (machine overloaded): restart the clock rather
                    # than sending a burst of frames to catch up.
                    next_due = time.perf_counter()
                elif delay > 0:
                    self._stop.wait(delay)
        except Exception as exc:  # the device can vanish (module unloaded); report it to submit()
            self._error = exc
            log.error("virtual camera %s stopped: %s", self.device, exc)

    def _close(self) -> None:
        self._stop.set()
        self._thread.join()
        self._cam.close()


def _no_driver_message(exc: RuntimeError, device: str | None) -> str:
    # pyvirtualcam reports one line per backend tried; the first sentence of each says what failed.
    reasons = "; ".join(line.split(". ")[0].strip() for line in str(exc).splitlines() if line.strip())
    where = f"virtual camera {device} is not available" if device else "no virtual camera is available"
    return f"{where} ({reasons}); {driver_instructions()}"
