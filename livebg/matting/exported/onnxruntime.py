"""RVM run with ONNX Runtime's CPU provider in fp32 (the ``onnx`` extra)."""

from __future__ import annotations

from typing import Any

import numpy as np
import onnxruntime as ort

from livebg.matting.exported.export import STATE_INPUTS, STATE_OUTPUTS, ExportedGraph, GraphShapes
from livebg.matting.exported.graph import ExportedGraphSession, GraphRunner, PingPongRunner


class OnnxSession(ExportedGraphSession):
    """RVM run with ONNX Runtime's CPU provider in fp32.

    The recurrent state stays in two sets of runtime buffers bound with IOBinding; each frame reads one
    set and writes the other, and the roles swap (no copies between frames). Forks share the
    ``InferenceSession`` of each size and ratio (it runs from several threads), each with its own
    binding and buffers.
    """

    backend = "onnxruntime"

    def _compile(self, graph: ExportedGraph, shapes: GraphShapes) -> ort.InferenceSession:
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
        return ort.InferenceSession(str(graph.path), options, providers=["CPUExecutionProvider"])

    def _new_runner(self, compiled: ort.InferenceSession, shapes: GraphShapes) -> GraphRunner:
        return _OrtRunner(compiled, shapes)


class _OrtRunner(PingPongRunner):
    def __init__(self, session: Any, shapes: GraphShapes) -> None:
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
