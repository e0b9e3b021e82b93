"""Where each live picture goes: the preview window, the virtual camera and the recording.

The window gets the picture as it is (it mirrors the preview itself, as video-call programs show you to
yourself) with the HUD; the shared outputs, the virtual camera and the recording, get it mirrored only
with ``mirror_output``, so that others see you the right way round. While the camera is away a
placeholder goes to all of them: a call or a recording shows a message instead of freezing.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Sequence

import cv2
import numpy as np

from livebg.live.config import LiveConfig
from livebg.live.shutdown import uninterrupted
from livebg.sinks.recorder import Recorder
from livebg.sinks.virtual_camera import VirtualCameraSink
from livebg.sinks.window import Action, PreviewWindow
from livebg.sources.camera import CaptureInfo

log = logging.getLogger(__name__)

PLACEHOLDER_MESSAGE = "camera disconnected - reconnecting..."


def placeholder_frame(height: int, width: int, message: str = PLACEHOLDER_MESSAGE) -> np.ndarray:
    """A dark ``uint8 (H, W, 3)`` RGB picture with ``message`` (ASCII) centred on it."""
    picture = np.full((height, width, 3), 24, np.uint8)
    font = cv2.FONT_HERSHEY_SIMPLEX
    scale = max(0.3, width / 900)
    thickness = 1 if scale < 0.8 else 2
    (text_w, text_h), _ = cv2.getTextSize(message, font, scale, thickness)
    origin = (max(0, (width - text_w) // 2), (height + text_h) // 2)
    cv2.putText(picture, message, origin, font, scale, (230, 230, 230), thickness, cv2.LINE_AA)
    return picture


class Outputs:
    """The outputs ``config`` asks for, at the camera's size and rate (``info``); a context manager.

    Entering opens the virtual camera (:class:`VirtualCameraError` without a driver) and the recording;
    :meth:`open_window` the preview window.
    Leaving normally or by Ctrl-C finishes the recording, leaving by another error discards it; either
    way each output is closed, and a second Ctrl-C meanwhile cannot cut that short. ``picture``: the
    last live picture sent (for snapshots and redraws; ``None`` while the placeholder shows).
    """

    def __init__(self, config: LiveConfig, info: CaptureInfo) -> None:
        self.config = config
        self.info = info
        self.window: PreviewWindow | None = None
        self.virtual_camera: VirtualCameraSink | None = None
        self.recorder: Recorder | None = None
        self.picture: np.ndarray | None = None
        self.placeholders = 0
        self._view: np.ndarray | None = None
        self._size = (info.height, info.width)
        self._started: float | None = None  # the recording's time 0: its first picture
        self._stack = contextlib.ExitStack()

    def __enter__(self) -> Outputs:
        config, info = self.config, self.info
        with contextlib.ExitStack() as stack:
            if config.virtual_camera:
                self.virtual_camera = VirtualCameraSink(
                    info.width,
                    info.height,
                    config.virtual_camera_fps or info.fps,
                    backend=config.virtual_camera_backend,
                    device=config.virtual_camera_device,
                )
                stack.callback(uninterrupted(self.virtual_camera.close))
            if config.record is not None:
                self.recorder = Recorder(
                    config.record,
                    width=info.width,
                    height=info.height,
                    fps=info.fps,
                    overwrite=config.overwrite,
                    protect=config.read_paths,
                )
                stack.callback(uninterrupted(self.recorder.close))
            self._stack = stack.pop_all()
        return self

    def open_window(self) -> None:
        """Open the preview window, when ``config`` asks for one, in the thread that will poll it (once
        the model is ready: a window nobody polls while it loads would look hung)."""
        if self.config.window and self.window is None:
            self.window = self._stack.enter_context(
                PreviewWindow("livebg", mirror=self.config.mirror_preview)
            )

    def __exit__(self, exc_type: type[BaseException] | None, exc: object, tb: object) -> None:
        with self._stack:
            stopped = exc_type is None or issubclass(exc_type, KeyboardInterrupt)
            if self.recorder is not None and stopped:
                uninterrupted(self.recorder.finish)()
                log.info("recorded %d frames to %s", self.recorder.written, self.recorder.path)

    def send(
        self, picture: np.ndarray, *, at: float, view: np.ndarray | None = None, hud: Sequence[str] = ()
    ) -> None:
        """Hand one ``uint8 (H, W, 3)`` RGB live picture to every output. ``at``: when, in
        ``time.perf_counter()`` seconds (the recording's clock); ``view``: what the window shows instead
        of the picture (the matte); ``hud``: lines drawn over the window's picture."""
        self.picture, self._view = picture, view
        self._size = picture.shape[:2]
        self._share(cv2.flip(picture, 1) if self.config.mirror_output else picture, at)
        self.show(hud, matte=view is not None)

    def send_placeholder(self, hud: Sequence[str] = ()) -> None:
        """The placeholder to every output, at the size of the last picture."""
        picture = placeholder_frame(*self._size)
        self.picture = self._view = None
        self.placeholders += 1
        self._share(picture, time.perf_counter())
        if self.window is not None:
            self.window.show(picture, hud)

    def show(self, hud: Sequence[str] = (), *, matte: bool = False) -> None:
        """Draw the last picture in the window again (its matte view with ``matte``, where there is
        one), e.g. after a hotkey or while paused."""
        picture = self._view if matte and self._view is not None else self.picture
        if self.window is not None and picture is not None:
            self.window.show(picture, hud)

    def poll(self) -> list[Action]:
        """The window's hotkeys since the last call (none without a window)."""
        return self.window.poll(1) if self.window is not None else []

    def _share(self, picture: np.ndarray, at: float) -> None:
        if self.virtual_camera is not None:
            self.virtual_camera.submit(picture)
        if self.recorder is not None:
            if self._started is None:
                self._started = at
            self.recorder.write(picture, time=at - self._started)
