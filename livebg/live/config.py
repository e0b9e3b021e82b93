"""What live mode is asked to do (built by the CLI), and the refusals that need no camera and no model."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from livebg.config import OUTPUT_TYPES, CaptureSettings, ModelConfig
from livebg.errors import UsageError
from livebg.live.budget import check_cpu_budget
from livebg.sinks.recorder import check_recording_path
from livebg.sinks.safe_write import existing_paths
from livebg.sinks.snapshot import check_snapshot_folder


@dataclass(frozen=True)
class LiveConfig:
    """Everything live mode needs, built by the CLI.

    ``background``: a ``--background`` spec (see :func:`livebg.backgrounds.parse_background`); the
    bundled backgrounds follow it in the ``n``/``p`` cycle. ``mirror_preview`` flips the window only;
    ``mirror_output`` flips what the virtual camera and the recording get. ``virtual_camera_fps``:
    ``None`` uses the camera's frame rate. ``record``: also write the result to this file (kept when
    live mode stops by quitting, Ctrl-C, ``duration`` or the end of a camera file; not on an error).
    ``target_fps``: the frame rate the network's pace is counted in (``"camera"``: the camera's own,
    at most 30; ``None``: keep the ratio): a new matte at most every ``matte_every``-th frame of it
    (``None``: :data:`livebg.live.loop.MATTE_EVERY`), held by lowering the downsample ratio no lower
    than a floor in pixels; every camera frame is shown with the newest matte. ``cpu_budget``: cores
    live mode may take (``None``: all it needs); it also adapts the ratio without a ``target_fps``,
    and ``model.threads`` should match it (:func:`livebg.live.budget.inference_threads`).
    ``output_type``: what every output gets: ``composite``,
    ``alpha`` (the matte as grey RGB, for keying in OBS) or ``foreground`` (the person's colours).
    ``duration``: stop after this many seconds
    (``None``: until quit). ``reconnect_backoff``: first and longest delay in seconds between attempts
    to reopen a lost camera.
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
    cpu_budget: float | None = None
    matte_every: int | None = None
    output_type: str = "composite"
    duration: float | None = None
    reconnect_backoff: tuple[float, float] = (0.25, 5.0)

    @property
    def read_paths(self) -> list[Path]:
        """What live mode reads and must never write: the camera file, the background, the weights."""
        return existing_paths(self.camera_file, self.background, self.model.weights)

    @property
    def camera_file(self) -> Path | None:
        """The video file played as the camera, if it is one (never to be written)."""
        path = Path(self.capture.camera)
        return path if path.is_file() else None


def check_live_config(config: LiveConfig) -> None:
    """Refuse, in one sentence each, what can be refused before the camera opens and the model loads:
    a ``record`` path that is a folder, exists (without ``overwrite``), is the camera file or lies in
    a missing folder, a ``snapshot_dir`` that is not an existing folder, a ``cpu_budget`` not above 0
    or beyond the machine, a ``matte_every`` below 1, and an unknown ``output_type``."""
    check_cpu_budget(config.cpu_budget)
    every = config.matte_every
    if every is not None and not (isinstance(every, int) and every >= 1):
        raise UsageError(f"matte_every {every!r} is not accepted; give a whole number from 1 (every frame)")
    if config.output_type not in OUTPUT_TYPES:
        raise UsageError(f"unknown output type {config.output_type!r}; use one of {', '.join(OUTPUT_TYPES)}")
    if config.record is not None:
        check_recording_path(config.record, overwrite=config.overwrite, protect=config.read_paths)
    check_snapshot_folder(config.snapshot_dir)
