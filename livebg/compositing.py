"""Putting the person in front of a background, on the model's device.

``composite = fg * alpha + background * (1 - alpha)``, where ``fg`` is the model's predicted foreground
(RVM's ``fgr``: the person's colours without the old background's spill) when it has one, else the
frame itself. Everything stays on the frame's device and dtype; the blend is one ``lerp`` kernel.
"""

from __future__ import annotations

import torch
from torch import Tensor

from livebg.backgrounds import Background
from livebg.config import OUTPUT_TYPES
from livebg.errors import UsageError
from livebg.matting.session import Matte


class Compositor:
    """Frame + matte → output picture, for one stream.

    ``output``: ``composite`` (the person over ``background``; RGBA with the matte as alpha when the
    background is ``transparent``), ``alpha`` (the matte as 3-channel grey) or ``foreground`` (the
    person's colours, RGB). ``background`` may be replaced between frames (hotkeys), also from another
    thread: the previous one is closed by the next call, in the compositing thread (never while it
    renders), and still renders if it is set again later. ``close()`` closes the current one too.
    """

    def __init__(self, background: Background, output: str = "composite") -> None:
        if output not in OUTPUT_TYPES:
            raise UsageError(f"unknown output {output!r}; use one of {', '.join(OUTPUT_TYPES)}")
        self.output = output
        self._background = background
        self._retired: list[Background] = []

    @property
    def background(self) -> Background:
        return self._background

    @background.setter
    def background(self, background: Background) -> None:
        previous, self._background = self._background, background
        if previous is not background:
            self._retired.append(previous)

    @property
    def channels(self) -> int:
        """Channels of the output: 4 (RGBA) for a transparent composite, else 3 (RGB)."""
        return 4 if self.output == "composite" and self._background.transparent else 3

    def __call__(self, src: Tensor, matte: Matte | None, time: float) -> Tensor:
        """``src``: float RGB ``(B, 3, H, W)`` in [0, 1]; ``matte`` from the session (``None`` only when
        the background needs none); ``time``: output timeline in seconds (drives video backgrounds).
        Returns float ``(B, C, H, W)`` in [0, 1] on ``src``'s device, ``C`` = :attr:`channels`; it may be
        ``src`` itself or a view, so do not write into it.
        """
        background = self._background  # read once: a hotkey may swap it from another thread
        self._close_retired(keep=background)
        if not background.needs_matte:
            return src
        if matte is None:
            raise ValueError(f"background {background.name!r} needs a matte but none was given")
        alpha = matte.alpha
        fg = matte.foreground if matte.foreground is not None else src
        if self.output == "alpha":
            return alpha.expand(-1, 3, -1, -1)
        if self.output == "foreground":
            return fg
        if background.transparent:
            return torch.cat([fg, alpha], dim=1)
        picture = background.render(src, alpha, time)
        if picture is None:
            raise ValueError(f"background {background.name!r} rendered nothing for a composite")
        return torch.lerp(picture, fg, alpha)

    def close(self) -> None:
        """Closes the background and any replaced ones; idempotent."""
        self._close_retired(keep=None)
        self._background.close()

    def _close_retired(self, keep: Background | None) -> None:
        while self._retired:
            retired = self._retired.pop()
            if retired is not keep:
                retired.close()
