"""The live loop: take the newest camera frame, cut it out with the newest matte, hand the picture to the
outputs, poll the hotkeys (pyvirtualcam's webcam_filter: read, process, send).

Threads, each with one owner: the capture thread keeps only the newest frame (frames nobody takes in
time are dropped there, never queued); this loop runs in the calling thread (OpenCV windows must live
there) and composites every frame it takes with its own pixels and the newest matte; the matte worker
(:class:`~livebg.live.worker.MatteWorker`) runs the network on the newest frame, paced at every
``matte_every``-th camera frame (:data:`MATTE_EVERY` by default) at the largest input size that keeps
that pace; the virtual camera's sender sends at a steady rate, repeating the last picture when
processing falls behind; the recorder encodes; the preparer compiles the other ratios. Every one is
stopped and joined on every way out. Latency runs from capture (``Frame.captured_at``) to the moment the
picture is handed to the outputs; the recording is stamped with the capture times.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from dataclasses import dataclass

from livebg.backgrounds import parse_background
from livebg.compositing import Compositor
from livebg.config import ModelConfig
from livebg.errors import UsageError
from livebg.frames import Frame
from livebg.live.config import LiveConfig, check_live_config
from livebg.live.controls import Controls
from livebg.live.hud import hud_lines
from livebg.live.outputs import Outputs
from livebg.live.ratio import RatioControl, camera_rate, target_rate
from livebg.live.shutdown import uninterrupted
from livebg.live.stats import LiveStats
from livebg.live.worker import Held, MatteWorker
from livebg.matting.factory import create_session
from livebg.matting.session import Matte, MattingSession
from livebg.sources.camera import CameraSource
from livebg.step import FrameStep, Matted, StageTimer, alpha_picture
from livebg.tensors import to_tensor

log = logging.getLogger(__name__)

MATTE_EVERY = 4
"""By default a new matte starts at most every 4th camera frame (7.5 a second at 30 fps): measured
against ground truth (``benchmarks/live_quality.py``), the larger input size that pace affords
outweighs the age of the matte."""


def run_live(
    config: LiveConfig,
    *,
    session: MattingSession | None = None,
    source: CameraSource | None = None,
    stop: threading.Event | None = None,
) -> LiveStats:
    """Run live mode until the user quits, ``stop`` is set, ``config.duration`` passes, or a camera
    file ends (without ``loop``). Ctrl-C stops it the same way wherever it arrives, start-up and
    shutdown included: the recording is finished and kept.

    ``session`` and ``source`` replace the ones built from ``config`` (tests, benchmarks); a given
    source is opened and started here if it was not. The camera is opened and the outputs with it
    first, then the model is loaded and made ready for the camera's picture size, and only then does
    capturing start, so a clip used as the camera does not play on while the model loads. Raises
    :class:`OutputError` (bad ``record`` or ``snapshot_dir``) before anything loads,
    :class:`CameraError` when the camera cannot be opened, :class:`VirtualCameraError` when no
    virtual camera driver is present.
    """
    check_live_config(config)
    stats = LiveStats(cpu_budget=config.cpu_budget)
    source = source or CameraSource.from_settings(config.capture, backoff=config.reconnect_backoff)
    compositor = _live_compositor(config)
    session = _alpha_only(session) if session is not None else None
    step = FrameStep(session, compositor, timer=StageTimer(session.device if session else None))
    with contextlib.ExitStack() as stack:
        stack.callback(uninterrupted(compositor.close))
        stack.callback(uninterrupted(source.close))
        try:
            with stats.startup_phase("camera"):
                info = source.open()  # what the camera delivers; a clip's clock starts only with start()
            stats.capture_size, stats.capture_fps = (info.height, info.width), info.fps
            # A CPU budget is a share of each frame: it needs a rate, the camera's unless one is given.
            target = config.target_fps or ("camera" if config.cpu_budget is not None else None)
            rate = target_rate(target, info.fps)
            every = config.matte_every or MATTE_EVERY
            interval = every / (rate or camera_rate(info.fps))
            ratio = stack.enter_context(
                RatioControl(None if rate is None else 1 / interval, cpu_budget=config.cpu_budget)
            )
            with stats.startup_phase("outputs"):
                outputs = Outputs(config, info)  # before the model: a missing driver is said at once
                stack.callback(_count_outputs, stats, outputs)  # runs once the outputs have closed
                stack.enter_context(outputs)
            if step.session is None and step.needs_matte:
                with stats.startup_phase("model"):
                    _load_session(step, config.model)
            if step.session is not None:  # compile for this size before a clip's clock starts
                with stats.startup_phase("compile"):
                    ratio.ready(step.session, stats.capture_size)
                    step.session.prepare(
                        info.height, info.width, step.session.current_ratio(*stats.capture_size)
                    )
            with stats.startup_phase("window"):
                outputs.open_window()
            controls = Controls(
                compositor,
                outputs,
                background=config.background,
                hud=config.hud,
                snapshot_dir=config.snapshot_dir,
            )
            stats.snapshots = controls.snapshots
            worker = stack.enter_context(MatteWorker(step, ratio, interval))
            source.start()
            loop = _Loop(config, source, step, outputs, controls, worker, stats, size=stats.capture_size)
            loop.run(stop or threading.Event())
        except KeyboardInterrupt:
            log.info("stopped (Ctrl-C)")
    stats.captured, stats.reconnects, stats.resets = source.captured, source.reconnects, step.resets
    log.info("%s", stats.summary())
    return stats


@dataclass
class _Loop:
    config: LiveConfig
    source: CameraSource
    step: FrameStep
    outputs: Outputs
    controls: Controls
    worker: MatteWorker
    stats: LiveStats
    size: tuple[int, int] = (0, 0)  # of the latest frame, for the HUD
    started: float = 0.0  # perf_counter() when capturing started
    used: Held | None = None  # the matte the last frame was cut out with

    def run(self, stop: threading.Event) -> None:
        source, outputs, controls = self.source, self.outputs, self.controls
        started, started_cpu = time.perf_counter(), time.process_time()
        self.started = started
        deadline = started + self.config.duration if self.config.duration is not None else None
        wait = 0.005 if outputs.window is not None else 0.05  # short waits keep the window responsive
        last_index, last_placeholder = 0, 0.0
        try:
            while not stop.is_set() and (deadline is None or time.perf_counter() < deadline):
                captured = source.wait_newer(last_index, wait)
                if captured is not None:
                    last_index = captured.frame.index
                    if controls.paused:
                        outputs.show(self._hud(), matte=controls.show_matte)
                    else:
                        self._process(captured.frame, captured.epoch)
                elif source.ended:
                    break
                elif not source.connected and time.perf_counter() - last_placeholder >= 0.1:
                    last_placeholder = time.perf_counter()
                    outputs.send_placeholder(self._hud())
                actions = outputs.poll()
                if not controls.handle(actions):
                    break
                if actions:  # show the effect at once rather than with the next frame (slow models)
                    outputs.show(self._hud(), matte=controls.show_matte)
        finally:
            self.stats.seconds = time.perf_counter() - started
            self.stats.cpu_seconds = time.process_time() - started_cpu

    def _process(self, frame: Frame, epoch: int) -> None:
        step, show_matte = self.step, self.controls.show_matte
        taken = time.perf_counter()
        self.size = frame.size
        step.timer.add("decode", taken - frame.captured_at)  # live: how long the frame waited for us
        if step.session is None and (show_matte or step.needs_matte):
            _load_session(step, self.config.model)  # first needed by a hotkey
        stream = (epoch, frame.size)  # a new connection or frame size starts the session's state afresh
        session, ratio = step.session, None
        if session is not None and (show_matte or step.needs_matte):
            self.worker.submit(frame, stream)
            # The first frame of a stream waits for its own matte; later ones take the newest there is.
            held = self.worker.latest(stream) or self.worker.wait(stream)
            if held is None:  # the worker stopped: live mode is ending
                return
            item = held.item if held.item.frame is frame else _hold(session, frame, held.item)
            if held is not self.used:
                ratio, self.used = held.ratio, held  # count each matte once, with the first frame it serves
        else:
            item = Matted(frame)
        picture = step.render(item)
        view = alpha_picture(item) if show_matte else None
        now = time.perf_counter()
        with step.timer.stage("output"):
            self.outputs.send(picture, at=frame.captured_at, view=view, hud=self._hud())
        if not self.stats.frames:
            self.stats.startup["first frame"] = now - self.started
            log.info("%s", self.stats.startup_summary())
        self.stats.add_frame(frame.captured_at, now, time.process_time(), ratio)

    def _hud(self) -> list[str]:
        controls = self.controls
        if self.outputs.window is None or not controls.hud:
            return []
        paused, matte = controls.paused, controls.show_matte
        return hud_lines(self.stats, self.step, self.size, paused=paused, show_matte=matte)


def _hold(session: MattingSession, frame: Frame, earlier: Matted) -> Matted:
    """``frame`` with the alpha of an ``earlier`` frame's matte over its own pixels (not the earlier
    frame's foreground, which would show where the person was)."""
    if earlier.matte is None:
        return Matted(frame)
    return Matted(frame, to_tensor(frame.rgb, session.device, session.dtype), Matte(earlier.matte.alpha))


def _live_compositor(config: LiveConfig) -> Compositor:
    """The compositor for ``config``'s background and output type; refuses what has no meaning live."""
    background = parse_background(config.background)
    if background.transparent:
        background.close()
        raise UsageError(
            "--background transparent has no meaning live: windows and cameras have no alpha channel; "
            "use a colour, an image, a video, a bundled name or blur"
        )
    if not background.needs_matte and config.output_type != "composite":
        background.close()
        raise UsageError(
            f"--output-type {config.output_type} needs the model, but --background none skips it; "
            "leave --background out (it is not shown in that output)"
        )
    return Compositor(background, output=config.output_type)


def _load_session(step: FrameStep, model: ModelConfig) -> None:
    log.info("loading %s", model.name)
    step.session = _alpha_only(create_session(model))
    step.timer.device = step.session.device


def _alpha_only(session: MattingSession) -> MattingSession:
    """``session`` set to make mattes without the foreground: live mode shows each one over later
    frames, with their own colours."""
    session.foreground = False
    return session


def _count_outputs(stats: LiveStats, outputs: Outputs) -> None:
    stats.placeholders = outputs.placeholders
    if outputs.virtual_camera is not None:
        stats.virtual_camera_frames = outputs.virtual_camera.frames_sent
        stats.virtual_camera_repeats = outputs.virtual_camera.repeats
    if outputs.recorder is not None:
        stats.recorded, stats.recording_dropped = outputs.recorder.written, outputs.recorder.dropped
