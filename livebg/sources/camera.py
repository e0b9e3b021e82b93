"""Live capture: a camera (OpenCV) or a video file/stream played as a camera (PyAV), read in its own
thread that keeps only the newest frame, and reconnects with back-off when the device goes away.

A file plays at its own frame rate in real time and drops frames when the consumer is slow, exactly
like a camera; that is how tests and benchmarks drive live mode.

About 390 lines: the two readers are small, but the capture thread's newest-frame hand-off, its
reconnection with back-off and its clean stop belong together (the decoding itself is in
:mod:`livebg.sources.media`).
"""

from __future__ import annotations

import contextlib
import logging
import platform
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple, Protocol

import cv2
import numpy as np

from livebg.config import CaptureSettings
from livebg.errors import CameraError, InputNotFoundError
from livebg.frames import Frame
from livebg.sources.media import MediaInput, Picture, is_url

_CAMERA_REMEDY = "pass a camera index, a device path, a video file or a stream URL"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CaptureInfo:
    """What the device actually delivers, read back after opening."""

    width: int
    height: int
    fps: float
    pixel_format: str | None
    backend: str

    def describe(self) -> str:
        fmt = f", {self.pixel_format}" if self.pixel_format else ""
        return f"{self.width}x{self.height} at {self.fps:.4g} fps{fmt} ({self.backend})"


class FrameReader(Protocol):
    """An opened capture device. ``read()`` blocks until the next picture and returns it as ``uint8
    (H, W, 3)`` RGB, or ``None`` at the end of a file; it raises when the device is lost."""

    info: CaptureInfo

    def read(self) -> np.ndarray | None: ...

    def close(self) -> None: ...


def open_reader(settings: CaptureSettings) -> FrameReader:
    """Open the device or file named by ``settings.camera``; :class:`CameraError` when a camera cannot be
    opened, :class:`InputNotFoundError` or :class:`InputError` when a file or stream cannot be."""
    spec = settings.camera.strip()
    if spec.isdigit():
        return OpenCVReader(int(spec), settings)
    if spec.startswith("/dev/"):
        if not Path(spec).exists():
            raise CameraError(
                f"camera {spec} does not exist; check it is connected, `livebg cameras` lists devices"
            )
        return OpenCVReader(spec, settings)
    if not is_url(spec) and not Path(spec).exists():
        raise InputNotFoundError(
            f"--camera {spec} is neither a camera index, a device path, an existing video file nor a "
            "stream URL; `livebg cameras` lists devices"
        )
    return PyAVReader(spec, settings)


def opencv_backend() -> int:
    """V4L2 on Linux, DirectShow on Windows (it offers MJPG and opens fast), the default elsewhere."""
    system = platform.system()
    if system == "Linux":
        return cv2.CAP_V4L2
    if system == "Windows":
        return cv2.CAP_DSHOW
    if system == "Darwin":
        return cv2.CAP_AVFOUNDATION
    return cv2.CAP_ANY


@contextlib.contextmanager
def quiet_opencv() -> Iterator[None]:
    """Silence OpenCV's own warnings (a missing camera): our errors say it better, in one line."""
    level = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
    try:
        yield
    finally:
        cv2.utils.logging.setLogLevel(level)


def decode_fourcc(value: float) -> str | None:
    """The four characters of an OpenCV ``CAP_PROP_FOURCC`` value, or ``None`` when it holds none."""
    code = int(value)
    if code <= 0:
        return None
    text = "".join(chr((code >> (8 * i)) & 0xFF) for i in range(4))
    return text if text.isprintable() else None


class OpenCVReader:
    """A camera by index or device path, through OpenCV. Requests MJPG (so high resolutions reach full
    frame rate over USB 2) and the asked size and rate, then reads back what the camera chose."""

    def __init__(self, device: int | str, settings: CaptureSettings) -> None:
        self.name = f"camera {device}"
        with quiet_opencv():
            self._cap = cv2.VideoCapture(device, opencv_backend())
        if not self._cap.isOpened():
            self._cap.release()
            raise CameraError(
                f"{self.name} could not be opened; check it is connected and not used by another "
                "program; `livebg cameras` lists devices"
            )
        # The pixel format must be set before the size: many drivers offer large sizes only in MJPG.
        self._cap.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter.fourcc(*"MJPG"))
        if settings.width:
            self._cap.set(cv2.CAP_PROP_FRAME_WIDTH, settings.width)
        if settings.height:
            self._cap.set(cv2.CAP_PROP_FRAME_HEIGHT, settings.height)
        if settings.fps:
            self._cap.set(cv2.CAP_PROP_FPS, settings.fps)
        # One buffered frame at most: older frames would only add latency.
        self._cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)
        self.info = CaptureInfo(
            width=int(self._cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
            height=int(self._cap.get(cv2.CAP_PROP_FRAME_HEIGHT)),
            fps=float(self._cap.get(cv2.CAP_PROP_FPS)) or 30.0,
            pixel_format=decode_fourcc(self._cap.get(cv2.CAP_PROP_FOURCC)),
            backend=f"OpenCV {self._cap.getBackendName()}",
        )

    def read(self) -> np.ndarray:
        ok, bgr = self._cap.read()
        if not ok or bgr is None:
            raise CameraError(f"{self.name} stopped delivering frames (disconnected?)")
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)

    def close(self) -> None:
        self._cap.release()


class PyAVReader:
    """A video file or stream decoded with :class:`MediaInput` and paced to its own frame rate in real
    time, upright as a player shows it.

    A frame whose successor is already due is dropped, as a camera drops frames nobody reads in time;
    with ``loop`` a file restarts at its end (reopened, which also works for streams). A damaged or
    cut-off file plays what it holds, with a warning.
    """

    def __init__(self, source: str, settings: CaptureSettings) -> None:
        self.source = source
        self._loop = settings.loop
        self._size = (settings.width, settings.height)
        self._media = self._open()
        self._rate = self._media.rate
        width, height = self._output_size(self._media.width, self._media.height)
        self.info = CaptureInfo(
            width=width,
            height=height,
            fps=float(self._rate),
            pixel_format=self._media.video.codec_context.name,
            backend="PyAV file, looping" if self._loop else "PyAV file",
        )
        self._pictures = self._media.pictures()
        self._clock_start: float | None = None
        self._offset = 0.0  # seconds of the file already played in earlier loops
        self._last_time = 0.0

    def _open(self) -> MediaInput:
        return MediaInput(self.source, label="--camera", remedy=_CAMERA_REMEDY, allow_truncated=True)

    def _output_size(self, width: int, height: int) -> tuple[int, int]:
        want_w, want_h = self._size
        if want_w and want_h:
            return want_w, want_h
        if want_w:
            return want_w, max(2, round(height * want_w / width / 2) * 2)
        if want_h:
            return max(2, round(width * want_h / height / 2) * 2), want_h
        return width, height

    def _next(self) -> Picture | None:
        picture = next(self._pictures, None)
        if picture is None and self._media.problem and is_url(self.source):
            raise CameraError(f"{self.source} stopped delivering frames ({self._media.problem})")
        if picture is not None or not self._loop:
            return picture
        # Loop: the next pass continues the clock one frame interval after the last frame.
        self._offset += self._last_time + 1 / float(self._rate)
        self._media.close()
        self._media = self._open()
        self._pictures = self._media.pictures()
        return next(self._pictures)  # opening found a first picture

    def read(self) -> np.ndarray | None:
        interval = 1 / float(self._rate)
        while True:
            picture = self._next()
            if picture is None:
                return None
            self._last_time = picture.time
            now = time.perf_counter()
            if self._clock_start is None:
                self._clock_start = now - (self._offset + picture.time)
            due = self._clock_start + self._offset + picture.time
            if now > due + interval:
                continue  # already late by a whole frame: a camera would have dropped it
            if due > now:
                time.sleep(due - now)
            return picture.rgb(self.info.width, self.info.height)

    def close(self) -> None:
        self._pictures.close()
        self._media.close()


class Captured(NamedTuple):
    """A frame and the connection it came from (``epoch`` grows by one at each (re)connection)."""

    frame: Frame
    epoch: int


class CameraSource:
    """Runs a :class:`FrameReader` in a capture thread and hands over only the newest frame.

    Use it as a context manager: entering opens the device (raising :class:`CameraError` if it cannot be
    opened) and starts the thread. When the device is lost the thread closes it and reopens it with
    exponential back-off (``backoff``: first and longest delay in seconds) until it comes back or the
    source is closed; ``connected`` tells which state it is in. ``close()`` is idempotent.
    """

    def __init__(
        self,
        open_device: Callable[[], FrameReader],
        *,
        name: str = "camera",
        backoff: tuple[float, float] = (0.25, 5.0),
    ) -> None:
        self.name = name
        self._open_device = open_device
        self._backoff = backoff
        self._stop = threading.Event()
        self._cond = threading.Condition()
        self._latest: Captured | None = None
        self._reader: FrameReader | None = None
        self._thread: threading.Thread | None = None
        self.info: CaptureInfo | None = None
        self.connected = False
        self.ended = False
        self.epoch = 0
        self.captured = 0  # frames read from the device, including those nobody took
        self.reconnects = 0
        self._started_at = 0.0

    @classmethod
    def from_settings(
        cls, settings: CaptureSettings, *, backoff: tuple[float, float] = (0.25, 5.0)
    ) -> CameraSource:
        """A source for ``settings``, opened with :func:`open_reader`."""
        return cls(lambda: open_reader(settings), name=f"camera {settings.camera}", backoff=backoff)

    def open(self) -> CaptureInfo:
        """Open the device in the calling thread (errors surface here) without capturing yet: what it
        delivers is known, and a file played as the camera starts its clock only with :meth:`start`."""
        info = self.info
        if info is None:
            reader = self._open_device()
            self._connect(reader)
            info = reader.info
        return info

    def start(self) -> CameraSource:
        """Open the device if :meth:`open` has not, then start capturing."""
        if self._thread is not None:
            return self
        self.open()
        self._started_at = time.perf_counter()
        self._thread = threading.Thread(target=self._run, name="livebg-capture", daemon=True)
        self._thread.start()
        return self

    def _connect(self, reader: FrameReader) -> None:
        self._reader = reader
        self.info = reader.info
        with self._cond:
            self.epoch += 1
            self.connected = True
            self._cond.notify_all()
        log.info("%s: %s", self.name, reader.info.describe())

    def _disconnect(self, reason: str) -> None:
        with self._cond:
            self.connected = False
            self._cond.notify_all()
        if self._reader is not None:
            reader, self._reader = self._reader, None
            try:
                reader.close()
            except Exception as exc:  # a lost device may fail to close too; nothing else to do
                log.debug("closing %s failed: %s", self.name, exc)
        log.warning("%s disconnected (%s); reconnecting", self.name, reason)

    def _run(self) -> None:
        while not self._stop.is_set():
            reader = self._reader
            if reader is None:
                if not self._reconnect():
                    break
                continue
            try:
                rgb = reader.read()
            except Exception as exc:  # any failure of the device counts as an unplug
                self._disconnect(str(exc) or type(exc).__name__)
                continue
            if rgb is None:
                with self._cond:
                    self.ended = True
                    self._cond.notify_all()
                break
            now = time.perf_counter()
            with self._cond:
                self.captured += 1
                frame = Frame(rgb=rgb, index=self.captured, time=now - self._started_at, captured_at=now)
                self._latest = Captured(frame, self.epoch)
                self._cond.notify_all()
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    def _reconnect(self) -> bool:
        """Retry opening with doubling delays; ``False`` when the source was closed meanwhile."""
        delay, longest = self._backoff
        while not self._stop.wait(delay):
            try:
                reader = self._open_device()
            except Exception as exc:  # still gone: keep trying
                log.debug("%s: reconnect failed: %s", self.name, exc)
                delay = min(delay * 2, longest)
                continue
            self.reconnects += 1
            self._connect(reader)
            return True
        return False

    def wait_newer(self, after: int, timeout: float) -> Captured | None:
        """The newest frame whose ``index`` is above ``after``, waiting up to ``timeout`` seconds;
        ``None`` on timeout, while disconnected, or once the stream has ended."""
        deadline = time.perf_counter() + timeout
        with self._cond:
            while True:
                latest = self._latest
                if latest is not None and latest.frame.index > after:
                    return latest
                remaining = deadline - time.perf_counter()
                if remaining <= 0 or self.ended or self._stop.is_set():
                    return None
                self._cond.wait(remaining)

    def close(self) -> None:
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        if self._thread is not None:
            # A blocked device read returns within its own timeout; the thread is a daemon so a
            # hung driver cannot keep the program alive.
            self._thread.join(timeout=5)
            self._thread = None
        elif self._reader is not None:
            self._reader.close()
            self._reader = None

    def __enter__(self) -> CameraSource:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
