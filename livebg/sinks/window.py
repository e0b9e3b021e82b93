"""The preview window (OpenCV): the composited picture, a HUD, a help overlay and the hotkeys.

The window only shows pictures and reports what the user asked for as :class:`Action` values; the live
loop decides what they do. RGB comes in; BGR exists only at the ``cv2.imshow`` call.
"""

from __future__ import annotations

import enum
import logging
import sys
from collections.abc import Sequence

import cv2
import numpy as np

from livebg.sinks.base import SinkBase

log = logging.getLogger(__name__)


class Action(enum.Enum):
    """What a hotkey asks for."""

    QUIT = "quit"
    NEXT_BACKGROUND = "next background"
    PREVIOUS_BACKGROUND = "previous background"
    TOGGLE_BLUR = "background blur on/off"
    TOGGLE_MIRROR = "mirror the preview on/off"
    TOGGLE_MATTE = "show the matte (alpha) on/off"
    TOGGLE_PAUSE = "pause/resume"
    SNAPSHOT = "save a snapshot (PNG)"
    TOGGLE_HUD = "HUD (fps, latency, model) on/off"
    TOGGLE_HELP = "this help on/off"


# Key codes as cv2.waitKey returns them; the help texts are made from this table.
HOTKEYS: tuple[tuple[str, tuple[int, ...], Action], ...] = (
    ("n", (ord("n"),), Action.NEXT_BACKGROUND),
    ("p", (ord("p"),), Action.PREVIOUS_BACKGROUND),
    ("b", (ord("b"),), Action.TOGGLE_BLUR),
    ("m", (ord("m"),), Action.TOGGLE_MIRROR),
    ("a", (ord("a"),), Action.TOGGLE_MATTE),
    ("space", (ord(" "),), Action.TOGGLE_PAUSE),
    ("s", (ord("s"),), Action.SNAPSHOT),
    ("h", (ord("h"),), Action.TOGGLE_HUD),
    ("?", (ord("?"),), Action.TOGGLE_HELP),
    ("q, Esc", (ord("q"), 27), Action.QUIT),
)
_KEY_ACTIONS = {code: action for _, codes, action in HOTKEYS for code in codes}


def hotkeys_help() -> str:
    """One line per hotkey, for ``--help`` and the help overlay."""
    return "\n".join(f"  {keys:<7} {action.value}" for keys, _, action in HOTKEYS)


class PreviewWindow(SinkBase):
    """An OpenCV window titled ``title``, a sink (see :mod:`livebg.sinks.base`): ``write()`` shows a
    picture, ``close()`` removes the window. ``show()`` draws a picture (mirrored when ``mirror``) with
    optional HUD lines and the help overlay; ``poll()`` returns the actions asked for since the last call,
    including :attr:`Action.QUIT` when the window was closed with its close button."""

    def __init__(self, title: str = "livebg", *, mirror: bool = True) -> None:
        self.title = title
        self.mirror = mirror
        self.show_help = False
        self._shown = False
        self._dismissed = False  # closed by the user
        if sys.platform.startswith("linux") and _loaded_before("av", "cv2"):
            log.warning(
                "PyAV was imported before OpenCV: its private libxcb can make OpenCV's window hang "
                "(PyAV issue #978); import cv2 before av"
            )
        # GUI_NORMAL: no toolbar or status bar, so the picture fills the window.
        cv2.namedWindow(title, cv2.WINDOW_NORMAL | cv2.WINDOW_KEEPRATIO | cv2.WINDOW_GUI_NORMAL)

    def write(self, image: np.ndarray, *, time: float | None = None, pts: int | None = None) -> None:
        """Display ``uint8 (H, W, 3)`` RGB (without HUD lines)."""
        self.show(image)

    def show(self, rgb: np.ndarray, hud: Sequence[str] = ()) -> None:
        """Display ``uint8 (H, W, 3)`` RGB, then the HUD lines (top left) and the help overlay."""
        if self._dismissed or self._closed:
            return
        bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
        if self.mirror:
            bgr = cv2.flip(bgr, 1)
        if hud:
            _draw_text_block(bgr, hud, corner="top")
        if self.show_help:
            lines = ["hotkeys:", *hotkeys_help().splitlines()]
            _draw_text_block(bgr, [line.strip() for line in lines], corner="bottom")
        if not self._shown:
            cv2.resizeWindow(self.title, rgb.shape[1], rgb.shape[0])
        cv2.imshow(self.title, bgr)
        self._shown = True

    def poll(self, wait_ms: int = 1) -> list[Action]:
        """Process window events for up to ``wait_ms`` milliseconds; the actions asked for."""
        if self._dismissed or self._closed:
            return [Action.QUIT]
        actions = []
        key = cv2.waitKey(wait_ms)
        if key != -1:
            action = _KEY_ACTIONS.get(key & 0xFF)
            if action is not None:
                actions.append(action)
        if self._shown and not self._visible():
            self._dismissed = True
            actions.append(Action.QUIT)
        return actions

    def _visible(self) -> bool:
        try:
            return cv2.getWindowProperty(self.title, cv2.WND_PROP_VISIBLE) >= 1
        except cv2.error:
            # Qt destroys the window (and its receiver) when the close button is clicked; asking
            # about it afterwards raises instead of answering 0.
            return False

    def _close(self) -> None:
        self._shown = False
        try:
            cv2.destroyWindow(self.title)
            cv2.waitKey(1)  # lets the GUI thread actually remove the window
        except cv2.error:
            pass  # already gone (closed by the user)


def _loaded_before(first: str, second: str) -> bool:
    """Whether module ``first`` started importing before ``second`` (``sys.modules`` keeps that order)."""
    names = list(sys.modules)
    return first in sys.modules and (second not in sys.modules or names.index(first) < names.index(second))


def _draw_text_block(bgr: np.ndarray, lines: Sequence[str], *, corner: str) -> None:
    """White text on a darkened box, scaled to the picture, drawn in place."""
    height, width = bgr.shape[:2]
    scale = max(0.35, min(height, width) / 900)
    thickness = 1 if scale < 0.8 else 2
    font = cv2.FONT_HERSHEY_SIMPLEX
    line_h = int(cv2.getTextSize("Ag", font, scale, thickness)[0][1] * 1.8) + 2
    box_w = max(cv2.getTextSize(line, font, scale, thickness)[0][0] for line in lines) + 12
    box_h = line_h * len(lines) + 8
    top = 0 if corner == "top" else max(0, height - box_h)
    region = bgr[top : top + box_h, 0 : min(width, box_w)]
    region[:] = (region * 0.35).astype(np.uint8)
    for i, line in enumerate(lines):
        y = top + 4 + line_h * (i + 1) - line_h // 4
        cv2.putText(bgr, line, (6, y), font, scale, (255, 255, 255), thickness, cv2.LINE_AA)
