"""RVM run with OpenVINO on the CPU."""

from __future__ import annotations

from typing import Any

import numpy as np

from livebg.matting.export import STATE_INPUTS, STATE_OUTPUTS, ExportedGraph
from livebg.matting.onnx_session import ExportedGraphSession, GraphRunner, PingPongRunner


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


class _OpenVinoRunner(PingPongRunner):
    def __init__(self, ov: Any, compiled: Any, graph: ExportedGraph) -> None:
        super().__init__(graph, lambda array: ov.Tensor(array, shared_memory=True))
        self._request = compiled.create_infer_request()

    def _infer(self, src: np.ndarray, a: np.ndarray, b: np.ndarray) -> None:
        request = self._request
        request.set_tensor("src", self._wrap(src))
        request.set_tensor("a", self._wrap(a))
        request.set_tensor("b", self._wrap(b))
        for name, tensor in zip(STATE_INPUTS, self._state_views, strict=True):
            request.set_tensor(name, tensor)
        for name, tensor in zip(STATE_OUTPUTS, self._next_views, strict=True):
            request.set_tensor(name, tensor)
        # start_async + wait rather than infer(): infer() would copy every output into new arrays.
        request.start_async()
        request.wait()
