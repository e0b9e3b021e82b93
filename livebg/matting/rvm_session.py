"""PyTorch session for the RVM network: carries the recurrent state from frame to frame."""

from __future__ import annotations

import torch
from torch import Tensor

from livebg.matting.session import DownsampleRatio, Matte
from livebg.models.rvm import MattingNetwork, State

_EMPTY: State = (None, None, None, None)


class RVMSession(DownsampleRatio):
    """Runs :class:`MattingNetwork` eagerly on one stream. See :class:`MattingSession`.

    The network holds no state of its own (the recurrent state is passed in and out), so forks share it.
    """

    backend = "torch"

    def __init__(
        self,
        model: MattingNetwork,
        device: torch.device,
        dtype: torch.dtype = torch.float32,
        downsample_ratio: float | None = None,
        name: str = "rvm",
    ) -> None:
        # Channels-last runs the many thin, high-resolution convolutions of the decoder about 1.6x
        # faster on CPU (oneDNN), and frames from to_tensor() already have that layout.
        self.model = model.to(device=device, dtype=dtype, memory_format=torch.channels_last).eval()
        self.device = device
        self.dtype = dtype
        self.set_downsample_ratio(downsample_ratio)
        self.name = name
        self._state: State = _EMPTY
        self._key: tuple[int, int, float] | None = None

    def prepare(self, height: int, width: int, ratio: float | None = None) -> None:
        """Nothing to compile ahead: PyTorch runs eagerly."""

    def reset(self) -> None:
        self._state = _EMPTY
        self._key = None

    def fork(self) -> RVMSession:
        """A session for another stream on the same network, with its own recurrent state."""
        twin = RVMSession(self.model, self.device, self.dtype, self.downsample_ratio, self.name)
        twin.foreground = self.foreground
        return twin

    @torch.inference_mode()
    def __call__(self, src: Tensor) -> Matte:
        height, width = src.shape[-2:]
        ratio = self.current_ratio(height, width)
        key = (height, width, ratio)
        if key != self._key:
            # The recurrent state has the shape of the downsampled input: a new size starts afresh.
            self._state = _EMPTY
            self._key = key
        fgr, pha, self._state = self.model(src, self._state, ratio, sequence=True)
        return Matte(alpha=pha, foreground=fgr if self.foreground else None)
