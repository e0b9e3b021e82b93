"""RVM run with OpenVINO on the CPU."""

from __future__ import annotations

from typing import Any

import numpy as np

from livebg.matting.export import STATE_INPUTS, STATE_OUTPUTS, ExportedGraph
from livebg.matting.onnx_session import ExportedGraphSession, GraphRunner


class OpenVinoSession(ExportedGraphSession):
    """RVM run with OpenVINO's CPU plugin in f32, one inference stream, all cores for that stream.

    f32 is set explicitly: on CPUs with bf16 support OpenVINO would otherwise infer in bf16, whose error
    grows through the recurrent state until the alpha is wrong in places. The state stays in two sets of
    tensors given to the infer request; each frame reads one and writes the other, and they swap.
    """

    backend = "openvino"
    _core: Any = None

    def _compile(self, graph: ExportedGraph) -> GraphRunner:
        if self._core is None:
            self._core = self._runtime.Core()
        compiled = self._core.compile_model(
            str(graph.path),
            "CPU",
            {
                "INFERENCE_PRECISION_HINT": "f32",
                "PERFORMANCE_HINT": "LATENCY",
                "NUM_STREAMS": "1",
                "INFERENCE_NUM_THREADS": str(self.threads),
            },
        )
        return _OpenVinoRunner(self._runtime, compiled, graph)


class _OpenVinoRunner:
    def __init__(self, ov: Any, compiled: Any, graph: ExportedGraph) -> None:
        self._ov = ov
        self._request = compiled.create_infer_request()
        self._graph = graph
        # numpy arrays own the memory; the ov.Tensors share it, so nothing is copied between frames.
        self._state = [np.zeros(s, np.float32) for s in graph.state_shapes]
        self._next = [np.zeros(s, np.float32) for s in graph.state_shapes]
        self._state_tensors = [ov.Tensor(a, shared_memory=True) for a in self._state]
        self._next_tensors = [ov.Tensor(a, shared_memory=True) for a in self._next]

    def reset(self) -> None:
        for array in self._state:
            array.fill(0.0)

    def run(self, src: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        height, width = self._graph.height, self._graph.width
        # Fresh outputs each frame: the caller may still hold the previous frame's matte.
        fgr = np.empty((1, 3, height, width), np.float32)
        pha = np.empty((1, 1, height, width), np.float32)
        ov, request = self._ov, self._request
        request.set_tensor("src", ov.Tensor(src, shared_memory=True))
        request.set_tensor("fgr", ov.Tensor(fgr, shared_memory=True))
        request.set_tensor("pha", ov.Tensor(pha, shared_memory=True))
        for name, tensor in zip(STATE_INPUTS, self._state_tensors, strict=True):
            request.set_tensor(name, tensor)
        for name, tensor in zip(STATE_OUTPUTS, self._next_tensors, strict=True):
            request.set_tensor(name, tensor)
        # start_async + wait rather than infer(): infer() would copy every output into new arrays.
        request.start_async()
        request.wait()
        self._state, self._next = self._next, self._state
        self._state_tensors, self._next_tensors = self._next_tensors, self._state_tensors
        return fgr, pha
