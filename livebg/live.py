"""Live mode: camera → matting session → compositor → preview window / virtual camera / recording.

Threads, each with one owner: the capture thread keeps only the newest frame (frames nobody takes in
time are dropped there, never queued); this module's loop runs in the calling thread (OpenCV windows
must live there), takes the newest frame, computes its matte and composites that same frame (no ghost
of the old background on motion); the virtual camera's sender thread sends at a steady rate, repeating
the last picture when processing falls behind; the recorder thread encodes.

Latency is measured per frame from capture (``Frame.captured_at``) to the moment the picture is handed
to the outputs. The preview window is mirrored by default, as video-call programs show you to
yourself; the virtual camera and the recording are not, so others see you the right way round.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import tempfile
import threading
import time
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Literal

import cv2
import numpy as np

from livebg.adaptive import RatioController
from livebg.backgrounds import bundled_backgrounds, parse_background
from livebg.compositing import Compositor
from livebg.config import ModelConfig
from livebg.errors import BackgroundError, CameraError, UsageError
from livebg.frames import Frame, to_tensor, to_uint8
from livebg.matting.factory import create_session
from livebg.matting.session import MattingSession
from livebg.sinks.video_file import EncoderOptions, VideoFileSink
from livebg.sinks.virtual_camera import VirtualCameraSink
from livebg.sinks.window import Action, PreviewWindow
from livebg.sources.camera import CameraSource, CaptureSettings

log = logging.getLogger(__name__)

_PLACEHOLDER_MESSAGE = "camera disconnected - reconnecting..."
_RECORD_QUEUE_DEPTH = 8


@dataclass(frozen=True)
class LiveConfig:
    """Everything live mode needs, built by the CLI.

    ``background``: a ``--background`` spec (see :func:`livebg.backgrounds.parse_background`); the
    bundled backgrounds follow it in the ``n``/``p`` cycle. ``mirror_preview`` flips the window only;
    ``mirror_output`` flips what the virtual camera and the recording get. ``virtual_camera_fps``:
    ``None`` uses the camera's frame rate. ``record``: also write the result to this file (kept only on
    a clean exit). ``target_fps``: lower the downsample ratio automatically to hold this rate
    (``"camera"``: the camera's own frame rate; ``None``: keep the ratio).
    ``duration``: stop after this many seconds (``None``: until quit). ``reconnect_backoff``: first
    and longest delay in seconds between attempts to reopen a lost camera.
    """

    capture: CaptureSettings = field(default_factory=CaptureSettings)
    background: str = "blur"
    model: ModelConfig = field(default_factory=ModelConfig)
    window: bool = True
    mirror_preview: bool = True
    mirror_output: bool = False
    hud: bool = True
    virtual_camera: bool = False
    virtual_camera_backend: str | None = None
    virtual_camera_device: str | None = None
    virtual_camera_fps: float | None = None
    record: Path | None = None
    overwrite: bool = False
    snapshot_dir: Path = Path()
    target_fps: float | Literal["camera"] | None = None
    duration: float | None = None
    reconnect_backoff: tuple[float, float] = (0.25, 5.0)


@dataclass
class LiveStats:
    """What a live run did. ``latencies``: seconds from capture to output, one per processed frame."""

    frames: int = 0
    captured: int = 0
    placeholders: int = 0
    reconnects: int = 0
    resets: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    frame_times: list[float] = field(default_factory=list)
    virtual_camera_frames: int = 0
    virtual_camera_repeats: int = 0
    recorded: int = 0
    recording_dropped: int = 0
    snapshots: list[Path] = field(default_factory=list)
    capture_size: tuple[int, int] | None = None
    capture_fps: float | None = None

    @property
    def fps(self) -> float:
        """Processed frames per second of wall time."""
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    @property
    def dropped(self) -> int:
        """Camera frames that were replaced by a newer one before processing could take them."""
        return max(0, self.captured - self.frames)

    def latency_percentile(self, q: float) -> float:
        """The ``q``-th percentile (0-100) of the per-frame latency, in seconds (NaN without frames)."""
        return float(np.percentile(self.latencies, q)) if self.latencies else float("nan")


def run_live(
    config: LiveConfig,
    *,
    session: MattingSession | None = None,
    source: CameraSource | None = None,
    stop: threading.Event | None = None,
) -> LiveStats:
    """Run live mode until the user quits, ``stop`` is set, ``config.duration`` passes, or a camera
    file ends (without ``loop``). Ctrl-C also stops it cleanly (the recording is kept).

    ``session`` and ``source`` replace the ones built from ``config`` (tests, benchmarks); a given
    source is started here if it was not. Raises :class:`CameraError` when the camera cannot be opened,
    :class:`VirtualCameraError` when no virtual camera driver is present.
    """
    return _LiveLoop(config, session, source, stop or threading.Event()).run()


class _LiveLoop:
    def __init__(
        self,
        config: LiveConfig,
        session: MattingSession | None,
        source: CameraSource | None,
        stop: threading.Event,
    ) -> None:
        self.config = config
        self.session = session
        self.source = source or CameraSource.from_settings(config.capture, backoff=config.reconnect_backoff)
        self.stop = stop
        self.stats = LiveStats()
        specs = [config.background]
        specs += [name for name in bundled_backgrounds() if name.lower() != config.background.lower()]
        self.specs = specs
        self.spec_index = 0
        self.blur = False
        self.show_matte = False
        self.paused = False
        self.hud = config.hud
        self.ratio_controller: RatioController | None = None
        self._preparer: threading.Thread | None = None
        self.target_fps: float | None = None
        self.window: PreviewWindow | None = None
        self.vcam: VirtualCameraSink | None = None
        self.recorder: _Recorder | None = None
        self._fps_ema = 0.0
        self._last_output_at: float | None = None
        self._last_output: np.ndarray | None = None
        self._last_matte: np.ndarray | None = None
        self._stream_key: tuple[int, tuple[int, int]] | None = None

    # -----------------------------------------------------------------------------------------------

    def run(self) -> LiveStats:
        background = parse_background(self.config.background)
        if background.transparent:
            background.close()
            raise UsageError(
                "--background transparent has no meaning live: windows and cameras have no alpha "
                "channel; use a colour, an image, a video, a bundled name or blur"
            )
        self.compositor = Compositor(background)
        with contextlib.ExitStack() as stack:
            stack.callback(lambda: self.compositor.background.close())
            self.source.start()
            stack.callback(self.source.close)
            info = self.source.info
            if info is None:  # start() sets it; a source built elsewhere might not
                raise CameraError(f"{self.source.name} did not report its picture size")
            self.stats.capture_size = (info.height, info.width)
            self.stats.capture_fps = info.fps
            target = self.config.target_fps
            # "camera": its own rate, at most 30 fps (a 60 fps camera is not worth a coarse matte);
            # a camera that reports no rate is taken as 30 fps.
            self.target_fps = min(info.fps or 30.0, 30.0) if target == "camera" else target
            self.output_size = (info.height, info.width)
            if self.config.virtual_camera:
                self.vcam = self._open_virtual_camera(info.width, info.height, info.fps)
                stack.callback(self.vcam.close)
            if self.config.record is not None:
                self.recorder = _Recorder(self.config, self.config.record, info.width, info.height, info.fps)
                # Closed below on success; an exception on the way out aborts it (temporary file removed).
                stack.push(self.recorder.exit)
            if self.session is None and background.needs_matte:
                self.session = self._create_session()
            if self.config.window:
                self.window = stack.enter_context(PreviewWindow("livebg", mirror=self.config.mirror_preview))
            try:
                self._loop()
            finally:
                if self._preparer is not None:
                    self._preparer.join()
            if self.vcam is not None:
                self.stats.virtual_camera_frames = self.vcam.frames_sent
                self.stats.virtual_camera_repeats = self.vcam.repeats
        self.stats.captured = self.source.captured
        self.stats.reconnects = self.source.reconnects
        if self.recorder is not None:
            self.stats.recorded = self.recorder.written
            self.stats.recording_dropped = self.recorder.dropped
            log.info("recorded %d frames to %s", self.recorder.written, self.config.record)
        log.info(
            "live: %d frames in %.1f s (%.1f fps), %d dropped at capture, latency p50 %.0f ms, p95 %.0f ms",
            self.stats.frames,
            self.stats.seconds,
            self.stats.fps,
            self.stats.dropped,
            1000 * self.stats.latency_percentile(50),
            1000 * self.stats.latency_percentile(95),
        )
        return self.stats

    def _open_virtual_camera(self, width: int, height: int, fps: float) -> VirtualCameraSink:
        return VirtualCameraSink(
            width,
            height,
            self.config.virtual_camera_fps or fps,
            backend=self.config.virtual_camera_backend,
            device=self.config.virtual_camera_device,
        )

    def _create_session(self) -> MattingSession:
        log.info("loading %s", self.config.model.name)
        return create_session(self.config.model)

    # -----------------------------------------------------------------------------------------------

    def _loop(self) -> None:
        started = time.perf_counter()
        deadline = started + self.config.duration if self.config.duration is not None else None
        # Short waits keep the window responsive while no new frame has arrived.
        wait = 0.005 if self.window is not None else 0.05
        last_index = 0
        last_placeholder = 0.0
        try:
            while not self.stop.is_set():
                if deadline is not None and time.perf_counter() >= deadline:
                    break
                captured = self.source.wait_newer(last_index, wait)
                if captured is None:
                    if self.source.ended:
                        break
                    now = time.perf_counter()
                    if not self.source.connected and now - last_placeholder >= 0.1:
                        last_placeholder = now
                        self._show_placeholder()
                    if not self._handle_keys():
                        break
                    continue
                last_index = captured.frame.index
                if not self.paused:
                    self._process(captured.frame, captured.epoch)
                elif self._last_output is not None:
                    self._show_window(self._last_output)
                if not self._handle_keys():
                    break
        except KeyboardInterrupt:
            log.info("stopped (Ctrl-C)")
        self.stats.seconds = time.perf_counter() - started

    def _process(self, frame: Frame, epoch: int) -> None:
        key = (epoch, frame.size)
        if key != self._stream_key:
            if self._stream_key is not None and self.session is not None:
                # A new connection or a new size: the recurrent state belongs to the old picture.
                self.session.reset()
                self.stats.resets += 1
            self._stream_key = key
        background = self.compositor.background
        began = time.perf_counter()
        if background.needs_matte or self.show_matte:
            session = self._ensure_session()
            if self.target_fps is not None and self.ratio_controller is None:
                # The ladder starts at the ratio the session would use for this size.
                start = session.current_ratio(*frame.size)
                self.ratio_controller = RatioController(self.target_fps, start)
                self._prepare_ladder(session, frame.size, start)
            src = to_tensor(frame.rgb, session.device, session.dtype)
            matte = session(src)
            output = to_uint8(self.compositor(src, matte, frame.time))
            self._last_matte = to_uint8(matte.alpha.expand(-1, 3, -1, -1)) if self.show_matte else None
            if self.ratio_controller is not None:
                ratio = self.ratio_controller.update(time.perf_counter() - began)
                if ratio is not None:
                    session.set_downsample_ratio(ratio)
                    log.info("downsample ratio %.3g to hold %g fps", ratio, self.target_fps)
        else:
            output = frame.rgb
            self._last_matte = None
        self._emit(output)
        now = time.perf_counter()
        self.stats.latencies.append(now - frame.captured_at)
        self.stats.frame_times.append(now)
        self.stats.frames += 1
        if self._last_output_at is not None:
            rate = 1 / max(now - self._last_output_at, 1e-6)
            self._fps_ema = rate if self._fps_ema == 0 else 0.9 * self._fps_ema + 0.1 * rate
        self._last_output_at = now

    def _prepare_ladder(self, session: MattingSession, size: tuple[int, int], start: float) -> None:
        """Compile the graphs of the ratios the controller may step to, in a thread of its own, so a
        later step does not stall the picture while it compiles."""
        if self.ratio_controller is None:
            return
        ratios = [r for r in self.ratio_controller.ratios if r != start]

        def run() -> None:
            for ratio in ratios:
                if self.stop.is_set():
                    return
                try:
                    session.prepare(*size, ratio)
                except Exception as exc:  # the live loop prepares it itself when it gets there
                    log.debug("could not prepare ratio %.3g ahead of time: %s", ratio, exc)
                    return

        self._preparer = threading.Thread(target=run, name="livebg-prepare")
        self._preparer.start()

    def _ensure_session(self) -> MattingSession:
        if self.session is None:
            self.session = self._create_session()
        return self.session

    def _emit(self, output: np.ndarray) -> None:
        """Hand one picture to every output."""
        self._last_output = output
        self.output_size = output.shape[:2]
        shared = cv2.flip(output, 1) if self.config.mirror_output else output
        if self.vcam is not None:
            self.vcam.submit(shared)
        if self.recorder is not None:
            self.recorder.submit(shared)
        self._show_window(output)

    def _show_window(self, output: np.ndarray) -> None:
        if self.window is None:
            return
        picture = self._last_matte if self.show_matte and self._last_matte is not None else output
        self.window.show(picture, self._hud_lines() if self.hud else ())

    def _show_placeholder(self) -> None:
        height, width = self.output_size
        picture = placeholder_frame(height, width, _PLACEHOLDER_MESSAGE)
        self.stats.placeholders += 1
        self._last_output = None
        if self.vcam is not None:
            self.vcam.submit(picture)
        if self.recorder is not None:
            self.recorder.submit(picture)
        if self.window is not None:
            self.window.show(picture, self._hud_lines() if self.hud else ())

    def _hud_lines(self) -> list[str]:
        latency = self.stats.latencies[-1] * 1000 if self.stats.latencies else float("nan")
        lines = [f"{self._fps_ema:4.1f} fps  latency {latency:.0f} ms"]
        if self.session is not None:
            height, width = self.output_size
            ratio = self.session.current_ratio(height, width)
            session = self.session
            lines.append(f"{session.name} on {session.device} ({session.backend})  ratio {ratio:.3g}")
        state = [self.compositor.background.name]
        if self.paused:
            state.append("paused")
        if self.show_matte:
            state.append("matte")
        lines.append("background: " + ", ".join(state))
        lines.append("? for help")
        return lines

    # -----------------------------------------------------------------------------------------------
    # Hotkeys

    def _handle_keys(self) -> bool:
        """Act on the window's hotkeys; ``False`` to quit."""
        if self.window is None:
            return True
        actions = self.window.poll(1)
        for action in actions:
            if action is Action.QUIT:
                return False
            if action is Action.NEXT_BACKGROUND:
                self._cycle_background(+1)
            elif action is Action.PREVIOUS_BACKGROUND:
                self._cycle_background(-1)
            elif action is Action.TOGGLE_BLUR:
                self.blur = not self.blur
                self._set_background("blur" if self.blur else self.specs[self.spec_index])
            elif action is Action.TOGGLE_MIRROR:
                self.window.mirror = not self.window.mirror
            elif action is Action.TOGGLE_MATTE:
                self.show_matte = not self.show_matte
            elif action is Action.TOGGLE_PAUSE:
                self.paused = not self.paused
            elif action is Action.SNAPSHOT:
                self._snapshot()
            elif action is Action.TOGGLE_HUD:
                self.hud = not self.hud
            elif action is Action.TOGGLE_HELP:
                self.window.show_help = not self.window.show_help
        if actions and self._last_output is not None:
            # Show the effect at once rather than with the next processed frame (slow models).
            self._show_window(self._last_output)
        return True

    def _cycle_background(self, step: int) -> None:
        self.blur = False
        for _ in range(len(self.specs)):
            self.spec_index = (self.spec_index + step) % len(self.specs)
            if self._set_background(self.specs[self.spec_index]):
                return

    def _set_background(self, spec: str) -> bool:
        try:
            background = parse_background(spec)
        except BackgroundError as exc:
            log.warning("skipping background %s: %s", spec, exc)
            return False
        if background.transparent:
            background.close()
            return False
        self.compositor.background = background
        log.info("background: %s", background.name)
        return True

    def _snapshot(self) -> None:
        if self._last_output is None:
            return
        path = save_snapshot(self._last_output, self.config.snapshot_dir)
        self.stats.snapshots.append(path)
        log.info("saved snapshot %s", path)


# ---------------------------------------------------------------------------------------------------


def placeholder_frame(height: int, width: int, message: str = _PLACEHOLDER_MESSAGE) -> np.ndarray:
    """A dark ``uint8 (H, W, 3)`` RGB picture with ``message`` (ASCII) centred on it."""
    picture = np.full((height, width, 3), 24, np.uint8)
    font = cv2.FONT_HERSHEY_SIMPLEX
    scale = max(0.3, width / 900)
    thickness = 1 if scale < 0.8 else 2
    (text_w, text_h), _ = cv2.getTextSize(message, font, scale, thickness)
    origin = (max(0, (width - text_w) // 2), (height + text_h) // 2)
    cv2.putText(picture, message, origin, font, scale, (230, 230, 230), thickness, cv2.LINE_AA)
    return picture


def save_snapshot(rgb: np.ndarray, folder: Path) -> Path:
    """Write ``uint8 (H, W, 3)`` RGB as ``livebg-NNNN.png`` in ``folder`` under the first free number.

    The PNG is written to a temporary file and linked under its name, which fails where the name is
    taken: an existing file is never overwritten, and the name never shows a half-written picture.
    """
    ok, png = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise UsageError("could not encode the snapshot as PNG")
    folder = Path(folder)
    data = png.tobytes()
    with tempfile.NamedTemporaryFile(dir=folder, prefix=".livebg-", suffix=".png.part") as tmp:
        tmp.write(data)
        tmp.flush()
        number = 1
        while True:
            path = folder / f"livebg-{number:04d}.png"
            try:
                _link_new(Path(tmp.name), path, data)
            except FileExistsError:
                number += 1
            else:
                return path


def _link_new(finished: Path, path: Path, data: bytes) -> None:
    """Give the finished file ``finished`` the new name ``path`` (FileExistsError where it is taken).
    On a file system without hard links (FAT) the name is taken first and then filled with ``data``."""
    try:
        os.link(finished, path)
    except FileExistsError:
        raise
    except OSError:
        with open(path, "xb") as f:
            f.write(data)


class _Recorder:
    """Encodes the live result in its own thread through :class:`VideoFileSink` (temporary name,
    renamed into place on a clean exit). Frames that arrive while the encoder is busy with eight others
    are dropped and counted, so recording can never slow down or stall the live picture."""

    def __init__(self, config: LiveConfig, path: Path, width: int, height: int, fps: float) -> None:
        camera = Path(config.capture.camera)
        protect = [camera] if camera.is_file() else []
        self._sink = VideoFileSink(
            path,
            width=width,
            height=height,
            rate=Fraction(fps).limit_denominator(1001),
            overwrite=config.overwrite,
            protect=protect,
            # Live: the encoder must keep up on a laptop CPU next to the model.
            options=EncoderOptions(preset="veryfast"),
        )
        self.size = (height, width)
        self.written = 0
        self.dropped = 0
        self._queue: queue.Queue[tuple[np.ndarray, float] | None] = queue.Queue(_RECORD_QUEUE_DEPTH)
        self._started = time.perf_counter()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="livebg-record", daemon=True)
        self._thread.start()

    def submit(self, rgb: np.ndarray) -> None:
        if self._error is not None:
            raise self._error
        if rgb.shape[:2] != self.size:
            rgb = cv2.resize(rgb, (self.size[1], self.size[0]), interpolation=cv2.INTER_AREA)
        try:
            self._queue.put_nowait((rgb, time.perf_counter() - self._started))
        except queue.Full:
            self.dropped += 1

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            if self._error is not None:
                continue
            try:
                self._sink.write(item[0], time=item[1])
                self.written += 1
            except Exception as exc:  # reported to the live loop at its next submit()
                self._error = exc

    def exit(self, exc_type: object, exc: object, tb: object) -> bool:
        """ExitStack callback: finish the file on success, remove it on failure."""
        self._queue.put(None)
        self._thread.join()
        if exc_type is None and self._error is None:
            self._sink.finish()
        else:
            self._sink.close()
            if exc_type is None and self._error is not None:
                raise self._error
        return False
