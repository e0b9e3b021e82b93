"""Stand-ins for tests: sessions whose matte is known in advance, registry entries for tests of
the weights cache, a camera that plays a script, and a virtual camera backend that records what it is
sent, and a stand-in for livebg.Matter."""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyvirtualcam
import torch
from torch import Tensor

from livebg.api import Matter
from livebg.config import ModelConfig
from livebg.matting.registry import ModelSpec, WeightsSpec
from livebg.matting.session import Matte, check_ratio
from livebg.sources.camera import CaptureInfo

if TYPE_CHECKING:
    from livebg.api import FrameMatte


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
    foreground = True

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

    def fork(self) -> DiscSession:
        return DiscSession()


class FakeSession:
    """A session whose matte is a function of the frame it is given, ``delay`` seconds each; records
    the frame sizes it saw, its calls and resets. ``prepared`` lists its ``prepare`` calls."""

    name = "fake"
    backend = "test"
    device = torch.device("cpu")
    dtype = torch.float32
    foreground = True

    def __init__(self, alpha: Callable[[Tensor], Tensor], delay: float = 0.0) -> None:
        self.alpha = alpha
        self.delay = delay
        self.downsample_ratio: float | None = None
        self.resets = 0
        self.calls = 0
        self.sizes: list[tuple[int, int]] = []
        self.prepared: list[tuple[int, int, float | None]] = []

    def __call__(self, src: Tensor) -> Matte:
        self.calls += 1
        self.sizes.append((src.shape[-2], src.shape[-1]))
        if self.delay:
            time.sleep(self.delay)
        return Matte(alpha=self.alpha(src))

    def reset(self) -> None:
        self.resets += 1

    def current_ratio(self, height: int, width: int) -> float:
        return self.downsample_ratio or 1.0

    def set_downsample_ratio(self, ratio: float | None) -> None:
        self.downsample_ratio = ratio

    def prepare(self, height: int, width: int, ratio: float | None = None) -> None:
        self.prepared.append((height, width, ratio))

    def fork(self) -> FakeSession:
        return FakeSession(self.alpha, self.delay)


def red_is_person(src: Tensor) -> Tensor:
    """Alpha 1 where the frame is red (R above half), else 0."""
    return (src[:, :1] > 0.5).to(src.dtype)


def everything_is_person(src: Tensor) -> Tensor:
    return torch.ones_like(src[:, :1])


class ScriptedReader:
    """A camera (a :class:`~livebg.sources.camera.FrameReader`) that delivers ``pictures`` at ``fps``,
    then raises (``fail``) or ends."""

    def __init__(self, pictures: list[np.ndarray], *, fail: bool = False, fps: float = 30) -> None:
        height, width = pictures[0].shape[:2]
        self.info = CaptureInfo(width, height, fps, "TEST", "scripted")
        self._pictures = iter(pictures)
        self._fail = fail
        self.closed = False

    def read(self) -> np.ndarray | None:
        time.sleep(1 / self.info.fps)
        picture = next(self._pictures, None)
        if picture is None and self._fail:
            raise OSError("device unplugged")
        return picture

    def close(self) -> None:
        self.closed = True


VCAM_BACKEND = "livebg-test-recorder"
"""The pyvirtualcam backend name the ``vcam`` fixture (conftest.py) registers."""


class SentFrames:
    """What a virtual camera registered with :meth:`register` as pyvirtualcam backend ``name`` was
    sent: every frame (``uint8 (H, W, 3)``) with the ``time.perf_counter()`` it arrived at, what it
    was opened with, and how often it was closed."""

    def __init__(self) -> None:
        self.frames: list[np.ndarray] = []
        self.times: list[float] = []
        self.opened: dict[str, object] = {}
        self.closed = 0

    def register(self, name: str) -> None:
        sent = self

        class RecordingBackend:
            def __init__(
                self, *, width: int, height: int, fps: float, fourcc: int, device: str | None
            ) -> None:
                sent.opened = dict(width=width, height=height, fps=fps, fourcc=fourcc, device=device)
                self._shape = (height, width, 3)

            def send(self, frame: np.ndarray) -> None:
                sent.times.append(time.perf_counter())
                sent.frames.append(frame.reshape(self._shape).copy())

            def close(self) -> None:
                sent.closed += 1

            def device(self) -> str:
                return "test-camera"

            def native_fourcc(self) -> int | None:
                return None

        pyvirtualcam.register_backend(name, RecordingBackend)


class GatedMatter:
    """:class:`livebg.Matter`'s interface with :class:`DiscSession`'s matte: stills through
    :class:`livebg.api.Stream`, clips through the real ``livebg video`` pipeline, so results are real
    files made in milliseconds.

    ``gate``: when given, every call waits until it is set (to hold a job "running"). ``inputs`` lists
    the inputs in the order the calls began; ``peak`` is the most calls that ran at once.
    """

    def __init__(self, gate: threading.Event | None = None) -> None:
        self.gate = gate
        self.inputs: list[str] = []
        self.peak = 0
        self._running = 0
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def _call(self, input: object) -> Iterator[None]:
        with self._lock:
            self.inputs.append(str(input))
            self._running += 1
            self.peak = max(self.peak, self._running)
        try:
            if self.gate is not None:
                self.gate.wait(timeout=60)
            yield
        finally:
            with self._lock:
                self._running -= 1

    def matte(self, image: object) -> FrameMatte:
        from livebg.api import Stream, read_image

        with self._call(image):
            return Stream(DiscSession())(read_image(image))

    def remove(self, image: object) -> np.ndarray:
        return self.matte(image).rgba()

    def replace(self, image: object, background: object) -> np.ndarray:
        from livebg.api import Stream, read_image

        with self._call(image), Stream(DiscSession()) as stream:
            return stream.composite(read_image(image), background)

    def process(self, input: object, output: object, *, progress: object = None, **options: object) -> object:
        from livebg.transcode import VideoJob, process_video

        with self._call(input):
            job = VideoJob.create(input, output, **options)
            return process_video(job, session=DiscSession(), progress=progress)


class DiscMatter(Matter):
    """A :class:`livebg.Matter` whose model is a :class:`DiscSession` (with its keywords); picklable,
    so Ray workers can make one."""

    def __init__(self, **trouble: object) -> None:
        self.config = ModelConfig(name="disc")
        self._session = DiscSession(**trouble)  # type: ignore[arg-type]
