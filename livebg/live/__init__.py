"""Live mode: camera → frame step → preview window / virtual camera / recording.

- ``loop``: the loop itself: the newest camera frame through the frame step to the outputs, then the
  hotkeys (:func:`run_live`).
- ``controls``: what the hotkeys do.
- ``outputs``: the fan-out to window, virtual camera and recording; mirroring; the placeholder shown
  while the camera is away.
- ``ratio``: holding a frame rate with the downsample ratio, and compiling its ladder ahead of time.
- ``hud``: the HUD's lines. ``stats``: what a run did, in bounded memory.
- ``config``: :class:`LiveConfig` and the refusals that need no camera and no model.
- ``shutdown``: a stop that a second Ctrl-C cannot break.

Importing this package imports no torch: :func:`run_live` loads with its first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from livebg.live.config import LiveConfig, check_live_config
from livebg.live.stats import LiveStats

if TYPE_CHECKING:
    from livebg.live.loop import run_live

__all__ = ["LiveConfig", "LiveStats", "check_live_config", "run_live"]


def __getattr__(name: str) -> Any:
    if name == "run_live":
        return importlib.import_module("livebg.live.loop").run_live
    raise AttributeError(f"module 'livebg.live' has no attribute {name!r}")
