"""RVM run with OpenVINO on the CPU, in f32 or with its decoder in bf16."""

from __future__ import annotations

from typing import Any

import numpy as np

from livebg.errors import UsageError
from livebg.matting.export import PARTS, ExportedGraph
from livebg.matting.onnx_session import ExportedGraphSession, GraphRunner, PingPongRunner
from livebg.models.rvm import MattingNetwork

PRECISIONS = ("fp32", "bf16")


class OpenVinoSession(ExportedGraphSession):
    """RVM run with OpenVINO's CPU plugin, one inference stream, all cores for that stream.

    ``precision="fp32"`` runs the whole network in f32, set explicitly: on CPUs with bf16 support
    OpenVINO would otherwise infer in bf16, whose error grows through the recurrent state and the
    refiner's variances until the alpha is wrong by up to 255/255 in places. ``"bf16"`` runs the network
    as three graphs (:data:`~livebg.matting.export.PARTS`) and only the recurrent decoder, most of the
    work, in bf16; the encoder and the refiner's statistics stay in f32 (measured at 720p: the decoder
    40 → 24 ms, the alpha within 3/255 of f32). It needs a CPU with bf16 instructions.

    The state stays in two sets of tensors given to the infer request; each frame reads one and writes
    the other, and they swap.
    """

    backend = "openvino"

    def __init__(self, model: MattingNetwork, *args: Any, precision: str = "fp32", **kwargs: Any) -> None:
        super().__init__(model, *args, **kwargs)
        if precision not in PRECISIONS:
            raise UsageError(f"--precision {precision} is not offered by OpenVINO; use fp32 or bf16")
        self._core = self._runtime.Core()
        if precision == "bf16" and "BF16" not in self._core.get_property("CPU", "OPTIMIZATION_CAPABILITIES"):
            raise UsageError("this CPU has no bf16 instructions; use --precision fp32")
        self.precision = precision
        self.split = precision == "bf16"

    def _compile_one(self, path: Any, precision: str) -> Any:
        return self._core.compile_model(
            str(path),
            "CPU",
            {
                "INFERENCE_PRECISION_HINT": precision,
                "PERFORMANCE_HINT": "LATENCY",
                "NUM_STREAMS": "1",
                "INFERENCE_NUM_THREADS": str(self.threads),
            },
        )

    def _compile(self, graph: ExportedGraph) -> GraphRunner:
        if not self.split:
            return _OpenVinoRunner(self._runtime, self._compile_one(graph.path, "f32"), graph)
        precisions = {"encoder": "f32", "decoder": "bf16", "head": "f32"}
        compiled = {
            part: self._compile_one(path, precisions[part])
            for part, path in zip(PARTS, graph.paths, strict=True)
        }
        return _OpenVinoPartsRunner(self._runtime, compiled, graph)


def _run(request: Any) -> None:
    # start_async + wait rather than infer(): infer() would copy every output into new arrays.
    request.start_async()
    request.wait()


class _OpenVinoRunner(PingPongRunner):
    def __init__(self, ov: Any, compiled: Any, graph: ExportedGraph) -> None:
        super().__init__(graph, lambda array: ov.Tensor(array, shared_memory=True))
        self._request = compiled.create_infer_request()

    def _infer(self, src: np.ndarray, a: np.ndarray, b: np.ndarray) -> None:
        request = self._request
        request.set_tensor("src", self._wrap(src))
        request.set_tensor("a", self._wrap(a))
        request.set_tensor("b", self._wrap(b))
        for name, tensor in self._state_tensors():
            request.set_tensor(name, tensor)
        _run(request)


class _OpenVinoPartsRunner(PingPongRunner):
    """The three graphs of a split network, each with its own infer request. What passes between them
    (the downsampled frame, features, hidden features) lives in arrays bound once to both sides."""

    def __init__(self, ov: Any, compiled: dict[str, Any], graph: ExportedGraph) -> None:
        super().__init__(graph, lambda array: ov.Tensor(array, shared_memory=True))
        self._requests = {part: model.create_infer_request() for part, model in compiled.items()}
        between = {name: compiled["encoder"].output(name) for name in PARTS["encoder"][1]}
        between["hid"] = compiled["decoder"].output("hid")
        self._between = {
            name: np.zeros(tuple(port.get_shape()), np.float32) for name, port in between.items()
        }
        for part, model in compiled.items():
            # A graph may lack a name of PARTS: the head at ratio 1 does not read the frame.
            ports = {name for port in (*model.inputs, *model.outputs) for name in port.get_names()}
            for name in ports & self._between.keys():
                self._requests[part].set_tensor(name, self._wrap(self._between[name]))

    def _infer(self, src: np.ndarray, a: np.ndarray, b: np.ndarray) -> None:
        encoder, decoder, head = (self._requests[part] for part in PARTS)
        encoder.set_tensor("src", self._wrap(src))
        _run(encoder)
        for name, tensor in self._state_tensors():
            decoder.set_tensor(name, tensor)
        _run(decoder)
        head.set_tensor("a", self._wrap(a))
        head.set_tensor("b", self._wrap(b))
        _run(head)
