"""Model stand-ins: a session for tests that check what the pipeline does with a matte it knows in
advance, and registry entries for tests of the weights cache."""

from __future__ import annotations

import os
from pathlib import Path

import torch

from livebg.api import Matter
from livebg.config import ModelConfig
from livebg.matting.registry import ModelSpec, WeightsSpec
from livebg.matting.session import Matte, check_ratio


class DiscSession:
    """A session whose matte is a centred disc (alpha 1 inside, 0 outside); counts calls and resets.
    Its ratio (1 unless set) changes nothing.

    Stand-ins for trouble, shared with its forks: ``interrupt_at``: the model call (counted over all
    forks, from 1) that raises ``KeyboardInterrupt`` as Ctrl-C would; ``die_flag``: a file whose
    presence makes the second call of a fork remove it and end the process at once (a worker dying).
    """

    name = "disc"
    backend = "test"
    device = torch.device("cpu")
    dtype = torch.float32

    def __init__(self, *, interrupt_at: int | None = None, die_flag: Path | None = None) -> None:
        self.calls = 0
        self.resets = 0
        self._ratio: float | None = None
        self.interrupt_at = interrupt_at
        self.die_flag = die_flag
        self._all_calls = [0]

    @property
    def downsample_ratio(self) -> float | None:
        return self._ratio

    def set_downsample_ratio(self, ratio: float | None) -> None:
        self._ratio = check_ratio(ratio)

    def current_ratio(self, height: int, width: int) -> float:
        return self._ratio or 1.0

    def prepare(self, height: int, width: int, ratio: float | None = None) -> None:
        pass

    def reset(self) -> None:
        self.resets += 1

    def fork(self) -> DiscSession:
        twin = DiscSession(interrupt_at=self.interrupt_at, die_flag=self.die_flag)
        twin._all_calls = self._all_calls
        twin.set_downsample_ratio(self._ratio)
        return twin

    def __call__(self, src: torch.Tensor) -> Matte:
        self.calls += 1
        self._all_calls[0] += 1
        if self._all_calls[0] == self.interrupt_at:
            raise KeyboardInterrupt
        if self.die_flag is not None and self.calls == 2 and self.die_flag.exists():
            self.die_flag.unlink()
            os._exit(1)
        h, w = src.shape[-2:]
        yy, xx = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
        disc = (((yy - h / 2) ** 2 + (xx - w / 2) ** 2) < (min(h, w) / 3) ** 2).float()
        return Matte(alpha=disc[None, None].expand(src.shape[0], 1, h, w), foreground=None)


def tiny_spec(
    name: str = "tiny", filename: str = "tiny.pth", kind: str = "rvm", **weights: object
) -> ModelSpec:
    """A registry entry for a tiny test checkpoint (``weights`` overrides fields of its
    :class:`WeightsSpec`: ``sha256``, ``size``, ...); its URL leads nowhere, so tests serve it through
    ``LIVEBG_WEIGHTS_URL``."""
    fields: dict = {
        "url": f"https://example.invalid/{filename}",
        "filename": filename,
        "sha256": None,
        "size": None,
        "licence": "MIT",
    }
    fields.update(weights)
    architecture = "mobilenetv3" if kind == "rvm" else "lraspp_mobilenet_v3_large"
    return ModelSpec(name, kind, architecture, "a tiny test checkpoint", WeightsSpec(**fields))


class DiscMatter(Matter):
    """A :class:`livebg.Matter` whose model is a :class:`DiscSession` (with its keywords); picklable,
    so Ray workers can make one."""

    def __init__(self, **trouble: object) -> None:
        self.config = ModelConfig(name="disc")
        self._session = DiscSession(**trouble)  # type: ignore[arg-type]
