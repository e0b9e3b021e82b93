"""What the sessions that run the exported RVM graph (see :mod:`.export`) on the CPU share.

:class:`ExportedGraphSession` holds what every runtime needs: the checkpoint's graph with a free frame
size, exported once and cached on disk, compiled for each frame size and ratio (a fraction of a
second), compiled graphs kept in a small LRU so live mode can switch ratios back and forth without
waiting, and torch tensors in and out without copies. Forks share the exported and compiled graphs
(:class:`SharedGraphs`); each has its own runners, which hold a stream's recurrent state in the
runtime's buffers (:class:`PingPongRunner`). The runtimes themselves are in :mod:`.onnxruntime` and
:mod:`.openvino`.
"""

from __future__ import annotations

import copy
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, Protocol

import numpy as np
import torch
from torch import Tensor

from livebg.config import cpu_cores
from livebg.errors import InputError
from livebg.matting.exported.export import (
    STATE_INPUTS,
    STATE_OUTPUTS,
    ExportedGraph,
    GraphShapes,
    export_graph,
    graph_shapes,
    model_fingerprint,
)
from livebg.matting.exported.upsampling import CoefficientUpsampler
from livebg.matting.session import DownsampleRatio, Matte, check_ratio
from livebg.models.rvm import MattingNetwork, downsample
from livebg.tensors import planes

log = logging.getLogger(__name__)

_Key = tuple[int, int, float]
# A runtime's compiler: the exported graph and the shapes to fix -> its compiled form.
Compile = Callable[[ExportedGraph, GraphShapes], Any]


class GraphRunner(Protocol):
    """One compiled graph run for one stream, with its recurrent state in the runtime's buffers."""

    def run(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``x``, the downsampled frame, float32 ``(1, 3, h, w)`` RGB in [0, 1] -> the coefficients
        ``(a, b)``, fresh arrays."""
        ...

    def reset(self) -> None:
        """Zero the recurrent state."""
        ...


class SharedGraphs:
    """The network, its exported graphs and the graphs compiled for each frame size and ratio (the
    last ``cache_size`` used), shared by a session and its forks. Thread-safe.

    ``split``: export the network as the three graphs of :data:`~.export.PARTS`. ``exports`` counts
    the graphs exported here (cache misses), for tests and logs.
    """

    def __init__(
        self, model: MattingNetwork, split: bool, export_folder: Path | None, cache_size: int
    ) -> None:
        self.model = model
        self.split = split
        self.export_folder = export_folder
        self.fingerprint = model_fingerprint(model)
        self.exports = 0
        self._cache_size = max(1, cache_size)
        self._graphs: dict[bool, ExportedGraph] = {}  # by refined
        self._compiled: OrderedDict[_Key, tuple[GraphShapes, Any]] = OrderedDict()
        self._lock = threading.Lock()
        self._exporting = threading.Lock()

    def compiled(self, key: _Key, compile: Compile) -> tuple[GraphShapes, Any]:
        """The shapes and the compiled graph for ``(height, width, ratio)``, compiled with ``compile``
        (and exported first) on a miss."""
        with self._lock:
            hit = self._compiled.get(key)
            if hit is not None:
                self._compiled.move_to_end(key)
                return hit
        # Exporting (once per checkpoint) and compiling take a while: done outside the lock.
        shapes = graph_shapes(self.model, *key)
        compiled = compile(self._graph(shapes.refined), shapes)
        with self._lock:
            hit = self._compiled.setdefault(key, (shapes, compiled))
            self._compiled.move_to_end(key)
            # Sessions keep their runners (and so the compiled graphs they use) themselves.
            while len(self._compiled) > self._cache_size:
                self._compiled.popitem(last=False)
        return hit

    def _graph(self, refined: bool) -> ExportedGraph:
        with self._exporting:  # the live loop and prepare()'s thread may both ask first
            graph = self._graphs.get(refined)
            if graph is None:
                graph = export_graph(
                    self.model,
                    refined,
                    split=self.split,
                    folder=self.export_folder,
                    fingerprint=self.fingerprint,
                )
                self.exports += graph.exported
                self._graphs[refined] = graph
        return graph


class ExportedGraphSession(DownsampleRatio):
    """A :class:`~livebg.matting.session.MattingSession` on the CPU backed by exported graphs.

    Takes and returns float32 CPU tensors; several frames in ``src`` run one after another. Each change of
    frame size or ratio starts the recurrent state afresh, as the PyTorch session does. Up to
    ``cache_size`` compiled graphs (one per size and ratio) are kept. ``threads``: intra-op threads
    (default: every core this process may use). ``export_folder``: where exported graphs are cached
    (default: :func:`~.export.exported_dir`). Subclasses name their runtime in ``backend``, set
    ``split`` before calling this constructor where they run the network as three graphs, and
    implement :meth:`_compile` and :meth:`_new_runner`.
    """

    backend: ClassVar[str] = ""
    # Whether the runtime takes the network as the three graphs of export.PARTS rather than one.
    split: bool = False

    def __init__(
        self,
        model: MattingNetwork,
        downsample_ratio: float | None = None,
        name: str = "rvm",
        *,
        threads: int | None = None,
        cache_size: int = 6,
        export_folder: Path | None = None,
    ) -> None:
        self.device = torch.device("cpu")
        self.dtype = torch.float32
        self.set_downsample_ratio(downsample_ratio)
        self.name = name
        self.threads = threads or cpu_cores()
        self._cache_size = max(1, cache_size)
        # The model is kept to export other sizes and ratios.
        self._shared = SharedGraphs(model.cpu().float().eval(), self.split, export_folder, cache_size)
        self._start_stream()

    @property
    def model(self) -> MattingNetwork:
        return self._shared.model

    @property
    def exports(self) -> int:
        """Graphs exported for this session and its forks (cache misses)."""
        return self._shared.exports

    def _start_stream(self) -> None:
        """The per-stream part: runners (each with its recurrent state), the current one, scratch."""
        self._runners: OrderedDict[_Key, GraphRunner] = OrderedDict()
        self._key: _Key | None = None
        self._upsample = CoefficientUpsampler()
        # prepare() may run in a helper thread while frames go through __call__.
        self._lock = threading.Lock()

    def fork(self) -> ExportedGraphSession:
        # Same settings and shared graphs (a shallow copy), then a stream of its own.
        twin = copy.copy(self)
        twin._start_stream()
        return twin

    def reset(self) -> None:
        with self._lock:
            runner = self._runners.get(self._key) if self._key is not None else None
        if runner is not None:
            runner.reset()

    def prepare(self, height: int, width: int, ratio: float | None = None) -> None:
        """Compile the graph for ``(height, width)`` frames at ``ratio`` (exporting it first if it is not
        cached) ahead of use, so a later switch to it does not stall a live stream. Safe to call from
        another thread."""
        self._runner((height, width, check_ratio(ratio) or self.current_ratio(height, width)))

    def __call__(self, src: Tensor) -> Matte:
        if src.dim() != 4 or src.shape[1] != 3:
            raise InputError(
                f"{self.backend} session got a tensor of shape {tuple(src.shape)}; "
                "it accepts RGB frames as (T, 3, H, W)"
            )
        if src.shape[0] > 1:
            mattes = [self(frame) for frame in src.split(1)]
            return Matte(
                alpha=torch.cat([m.alpha for m in mattes]),
                foreground=torch.cat([m.foreground for m in mattes if m.foreground is not None]),
            )
        height, width = src.shape[-2:]
        key = (height, width, self.current_ratio(height, width))
        runner = self._runner(key)
        if key != self._key:
            runner.reset()
            self._key = key
        src = src.detach().to("cpu", torch.float32)
        small = downsample(src, key[2]).contiguous().numpy()
        a, b = runner.run(small)
        if not self.foreground:
            return Matte(alpha=self._upsample.alpha(a, b, planes(src[0])))
        fgr, pha = self._upsample(a, b, planes(src[0]))
        return Matte(alpha=pha, foreground=fgr)

    def _runner(self, key: _Key) -> GraphRunner:
        with self._lock:
            runner = self._runners.get(key)
            if runner is not None:
                self._runners.move_to_end(key)
                return runner
        shapes, compiled = self._shared.compiled(key, self._compile)
        runner = self._new_runner(compiled, shapes)
        with self._lock:
            runner = self._runners.setdefault(key, runner)
            self._runners.move_to_end(key)
            # Drop the least recently used runners, never the one the stream is running on.
            for old in [k for k in self._runners if k not in (key, self._key)]:
                if len(self._runners) <= self._cache_size:
                    break
                del self._runners[old]
        return runner

    def _compile(self, graph: ExportedGraph, shapes: GraphShapes) -> Any:
        """The runtime's graph compiled for ``shapes``; shared by forks, so it holds no stream's state."""
        raise NotImplementedError

    def _new_runner(self, compiled: Any, shapes: GraphShapes) -> GraphRunner:
        """A runner of ``compiled`` for this stream, with its own requests and state buffers."""
        raise NotImplementedError


class PingPongRunner:
    """Runs one compiled graph with its recurrent state in two sets of buffers: each frame reads one
    set and writes the other, and the roles swap, so nothing is copied between frames.

    ``wrap`` turns a numpy array into the runtime's view of the same memory; subclasses implement
    ``_infer(x, a, b)`` with ``self._state_views`` as inputs and ``self._next_views`` as outputs.
    """

    def __init__(self, shapes: GraphShapes, wrap: Callable[[np.ndarray], Any]) -> None:
        self._shapes = shapes
        self._wrap = wrap
        # numpy arrays own the memory; the runtime's views read and write it in place.
        self._state = [np.zeros(s, np.float32) for s in shapes.states]
        self._next = [np.zeros(s, np.float32) for s in shapes.states]
        self._state_views = [wrap(a) for a in self._state]
        self._next_views = [wrap(a) for a in self._next]

    def reset(self) -> None:
        for array in self._state:
            array.fill(0.0)

    def run(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        a = np.empty(self._shapes.coefficients, np.float32)
        b = np.empty(self._shapes.coefficients, np.float32)
        self._infer(x, a, b)
        self._state, self._next = self._next, self._state
        self._state_views, self._next_views = self._next_views, self._state_views
        return a, b

    def _state_tensors(self) -> list[tuple[str, Any]]:
        """This frame's state bindings: the state to read as r1i..r4i, the one to write as r1o..r4o."""
        return [
            *zip(STATE_INPUTS, self._state_views, strict=True),
            *zip(STATE_OUTPUTS, self._next_views, strict=True),
        ]

    def _infer(self, x: np.ndarray, a: np.ndarray, b: np.ndarray) -> None:
        raise NotImplementedError
