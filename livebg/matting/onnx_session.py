"""Sessions that run the exported RVM graph (see :mod:`livebg.matting.export`) on the CPU.

:class:`ExportedGraphSession` holds what every runtime shares: the checkpoint's graph with a free
frame size, exported once and cached on disk, compiled for each frame size and ratio (a fraction of a
second), compiled graphs kept in a small LRU so live mode can switch ratios back and forth without
waiting, and torch tensors in and out without copies. :class:`OnnxSession` runs the
graphs with ONNX Runtime; ``OpenVinoSession`` (in its own module) with OpenVINO.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, Protocol

import numpy as np
import torch
from torch import Tensor

from livebg.errors import InputError
from livebg.matting.backend import import_runtime
from livebg.matting.export import (
    STATE_INPUTS,
    STATE_OUTPUTS,
    ExportedGraph,
    GraphShapes,
    export_graph,
    graph_shapes,
    model_fingerprint,
)
from livebg.matting.session import Matte, auto_downsample_ratio
from livebg.matting.upsampling import CoefficientUpsampler
from livebg.models.rvm import MattingNetwork, downsample

log = logging.getLogger(__name__)

_Key = tuple[int, int, float]


def cpu_threads() -> int:
    """The cores this process may run on (its affinity mask where the OS tells it)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


class GraphRunner(Protocol):
    """One compiled graph with its recurrent state held in the runtime's buffers."""

    def run(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``x``, the downsampled frame, float32 ``(1, 3, h, w)`` RGB in [0, 1] -> the coefficients
        ``(a, b)``, fresh arrays."""
        ...

    def reset(self) -> None:
        """Zero the recurrent state."""
        ...


class ExportedGraphSession:
    """A :class:`~livebg.matting.session.MattingSession` on the CPU backed by exported graphs.

    Takes and returns float32 CPU tensors; several frames in ``src`` run one after another. Each change of
    frame size or ratio starts the recurrent state afresh, as the PyTorch session does. Up to
    ``cache_size`` compiled graphs (one per size and ratio) are kept. ``threads``: intra-op threads
    (default: every core this process may use). ``export_folder``: where exported graphs are cached (default:
    :func:`~livebg.matting.export.exported_dir`). Subclasses name their runtime in ``backend`` (also its
    package name) and implement :meth:`_compile`.
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
        self._runtime = import_runtime(self.backend)  # a missing runtime fails here, not on frame 1
        self.model = model.cpu().float().eval()  # kept to export other sizes and ratios
        self.device = torch.device("cpu")
        self.dtype = torch.float32
        self.downsample_ratio = downsample_ratio
        self.name = name
        self.threads = threads or cpu_threads()
        self.exports = 0  # graphs exported by this session (cache misses), for tests and logs
        self._graphs: dict[bool, ExportedGraph] = {}  # by refined
        self._cache_size = max(1, cache_size)
        self._export_folder = export_folder
        self._fingerprint = model_fingerprint(self.model)
        self._runners: OrderedDict[_Key, GraphRunner] = OrderedDict()
        self._key: _Key | None = None
        self._upsample = CoefficientUpsampler()
        # prepare() may run in a helper thread while frames go through __call__.
        self._lock = threading.Lock()
        self._exporting = threading.Lock()

    def current_ratio(self, height: int, width: int) -> float:
        return self.downsample_ratio or auto_downsample_ratio(height, width)

    def set_downsample_ratio(self, ratio: float | None) -> None:
        self.downsample_ratio = ratio

    def reset(self) -> None:
        with self._lock:
            runner = self._runners.get(self._key) if self._key is not None else None
        if runner is not None:
            runner.reset()

    def prepare(self, height: int, width: int, ratio: float | None = None) -> None:
        """Compile the graph for ``(height, width)`` frames at ``ratio`` (exporting it first if it is not
        cached) ahead of use, so a later switch to it does not stall a live stream. Safe to call from
        another thread."""
        self._runner((height, width, ratio or self.current_ratio(height, width)))

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
        fgr, pha = self._upsample(*runner.run(small), src.contiguous().numpy())
        return Matte(alpha=pha, foreground=fgr)

    def _runner(self, key: _Key) -> GraphRunner:
        with self._lock:
            runner = self._runners.get(key)
            if runner is not None:
                self._runners.move_to_end(key)
                return runner
        # Exporting (once per checkpoint) and compiling take a while: done outside the lock.
        height, width, ratio = key
        shapes = graph_shapes(self.model, height, width, ratio)
        graph = self._graph(shapes.refined)
        runner = self._compile(graph, shapes)
        with self._lock:
            runner = self._runners.setdefault(key, runner)
            self._runners.move_to_end(key)
            # Drop the least recently used graphs, never the one the stream is running on.
            for old in [k for k in self._runners if k not in (key, self._key)]:
                if len(self._runners) <= self._cache_size:
                    break
                del self._runners[old]
        return runner

    def _graph(self, refined: bool) -> ExportedGraph:
        with self._exporting:  # the live loop and prepare()'s thread may both ask first
            graph = self._graphs.get(refined)
            if graph is None:
                graph = export_graph(
                    self.model,
                    refined,
                    split=self.split,
                    folder=self._export_folder,
                    fingerprint=self._fingerprint,
                )
                self.exports += graph.exported
                self._graphs[refined] = graph
        return graph

    def _compile(self, graph: ExportedGraph, shapes: GraphShapes) -> GraphRunner:
        """The runtime's graph compiled for ``shapes``."""
        raise NotImplementedError


class OnnxSession(ExportedGraphSession):
    """RVM run with ONNX Runtime's CPU provider in fp32.

    The recurrent state stays in two sets of runtime buffers bound with IOBinding; each frame reads one
    set and writes the other, and the roles swap (no copies between frames).
    """

    backend = "onnxruntime"

    def _compile(self, graph: ExportedGraph, shapes: GraphShapes) -> GraphRunner:
        ort = self._runtime
        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3  # its warnings about unused initialisers mean nothing to a user
        # Idle workers sleep instead of spinning: on a 2-core machine the capture, decode and compositing
        # threads need those cycles (measured at 720p: equal speed alone, up to 2x faster under load).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        # Fix the graph's free sizes (see export._write for their names): planned as a static graph.
        for name, shape in shapes.inputs().items():
            options.add_free_dimension_override_by_name(f"{name}_height", shape[2])
            options.add_free_dimension_override_by_name(f"{name}_width", shape[3])
        session = ort.InferenceSession(str(graph.path), options, providers=["CPUExecutionProvider"])
        return _OrtRunner(ort, session, shapes)


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


class _OrtRunner(PingPongRunner):
    def __init__(self, ort: Any, session: Any, shapes: GraphShapes) -> None:
        super().__init__(shapes, ort.OrtValue.ortvalue_from_numpy)
        self._session = session
        self._binding = session.io_binding()

    def _infer(self, x: np.ndarray, a: np.ndarray, b: np.ndarray) -> None:
        binding = self._binding
        binding.bind_cpu_input("x", x)
        binding.bind_ortvalue_output("a", self._wrap(a))
        binding.bind_ortvalue_output("b", self._wrap(b))
        for name, value in zip(STATE_INPUTS, self._state_views, strict=True):
            binding.bind_ortvalue_input(name, value)
        for name, value in zip(STATE_OUTPUTS, self._next_views, strict=True):
            binding.bind_ortvalue_output(name, value)
        self._session.run_with_iobinding(binding)
