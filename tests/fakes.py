"""Model stand-ins for tests that check what the pipeline does with a matte it knows in advance."""

from __future__ import annotations

import torch

from livebg.matting.session import Matte


class DiscSession:
    """A session whose matte is a centred disc (alpha 1 inside, 0 outside); counts calls and resets."""

    name = "disc"
    backend = "test"
    device = torch.device("cpu")
    dtype = torch.float32
    downsample_ratio = None

    def __init__(self) -> None:
        self.calls = 0
        self.resets = 0

    def current_ratio(self, height: int, width: int) -> float:
        return 1.0

    def reset(self) -> None:
        self.resets += 1

    def __call__(self, src: torch.Tensor) -> Matte:
        self.calls += 1
        h, w = src.shape[-2:]
        yy, xx = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
        disc = (((yy - h / 2) ** 2 + (xx - w / 2) ** 2) < (min(h, w) / 3) ** 2).float()
        return Matte(alpha=disc[None, None].expand(src.shape[0], 1, h, w), foreground=None)

    def fork(self) -> DiscSession:
        return DiscSession()
