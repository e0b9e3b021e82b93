"""What the preview window's hotkeys do in live mode.

The window reports :class:`~livebg.sinks.window.Action` values; :class:`Controls` turns them into
changes of the background, the view and the run: the loop reads ``paused`` and ``show_matte``, the HUD
reads ``hud``, and a snapshot saves the last live picture.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

from livebg.backgrounds import bundled_backgrounds, parse_background
from livebg.compositing import Compositor
from livebg.errors import BackgroundError, OutputError
from livebg.live.outputs import Outputs
from livebg.sinks.snapshot import save_snapshot
from livebg.sinks.window import Action

log = logging.getLogger(__name__)


class Controls:
    """The state the hotkeys change, starting from ``background`` (a ``--background`` spec) and ``hud``.

    ``n``/``p`` cycle through ``background`` followed by the bundled backgrounds (skipping any that
    cannot be opened), ``b`` toggles blur over the current one, ``a`` the matte view, ``space`` pauses,
    ``h`` the HUD; ``m`` and ``?`` act on the window itself; ``s`` saves the last live picture in
    ``snapshot_dir`` (a failure is logged, never fatal: the session goes on). ``snapshots`` lists the
    files saved.
    """

    def __init__(
        self, compositor: Compositor, outputs: Outputs, *, background: str, hud: bool, snapshot_dir: Path
    ) -> None:
        self.compositor = compositor
        self.outputs = outputs
        self.specs = [background]
        self.specs += [name for name in bundled_backgrounds() if name.lower() != background.lower()]
        self.snapshot_dir = snapshot_dir
        self.hud = hud
        self.show_matte = False
        self.paused = False
        self.snapshots: list[Path] = []
        self._index = 0
        self._blur = False

    def handle(self, actions: Iterable[Action]) -> bool:
        """Act on ``actions`` in order; ``False`` when one of them asks to quit."""
        window = self.outputs.window
        for action in actions:
            if action is Action.QUIT:
                return False
            if action is Action.NEXT_BACKGROUND:
                self._cycle(+1)
            elif action is Action.PREVIOUS_BACKGROUND:
                self._cycle(-1)
            elif action is Action.TOGGLE_BLUR:
                self._blur = not self._blur
                self._use("blur" if self._blur else self.specs[self._index])
            elif action is Action.TOGGLE_MATTE:
                self.show_matte = not self.show_matte
            elif action is Action.TOGGLE_PAUSE:
                self.paused = not self.paused
            elif action is Action.SNAPSHOT:
                self._snapshot()
            elif action is Action.TOGGLE_HUD:
                self.hud = not self.hud
            elif action is Action.TOGGLE_MIRROR and window is not None:
                window.mirror = not window.mirror
            elif action is Action.TOGGLE_HELP and window is not None:
                window.show_help = not window.show_help
        return True

    def _cycle(self, step: int) -> None:
        self._blur = False
        for _ in range(len(self.specs)):
            self._index = (self._index + step) % len(self.specs)
            if self._use(self.specs[self._index]):
                return

    def _use(self, spec: str) -> bool:
        try:
            background = parse_background(spec)
        except BackgroundError as exc:
            log.warning("skipping background %s: %s", spec, exc)
            return False
        if background.transparent:  # windows and cameras have no alpha channel
            background.close()
            return False
        self.compositor.background = background
        log.info("background: %s", background.name)
        return True

    def _snapshot(self) -> None:
        picture = self.outputs.picture
        if picture is None:
            return
        try:
            path = save_snapshot(picture, self.snapshot_dir)
        except OutputError as exc:
            log.warning("%s", exc)
            return
        self.snapshots.append(path)
        log.info("saved snapshot %s", path)
