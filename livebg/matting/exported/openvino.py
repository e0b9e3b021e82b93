"""RVM run with OpenVINO on the CPU, in f32 or with its decoder in bf16 (the ``openvino`` extra)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import openvino as ov

from livebg.errors import UsageError
from livebg.matting.exported.export import PARTS, ExportedGraph, GraphShapes, exported_dir
from livebg.matting.exported.graph import ExportedGraphSession, GraphRunner, PingPongRunner
from livebg.models.rvm import MattingNetwork

log = logging.getLogger(__name__)

COMPILED_KEPT = 24
"""Compiled models kept in OpenVINO's cache, the newest (15 MB each for 720p frames)."""


def compiled_cache(export_folder: Path | None, keep: int = COMPILED_KEPT) -> Path:
    """OpenVINO's cache of compiled models: ``openvino/`` in the folder of exported graphs (default
    :func:`~.export.exported_dir`). A graph compiled before loads from it in about a third of the time
    (720p at ratio 0.375: 0.55 s instead of 1.7 s), which shortens live start-up and every first switch
    to a ratio. Trimmed here to the ``keep`` newest files; it holds nothing but OpenVINO's own."""
    folder = (export_folder or exported_dir()) / "openvino"
    if folder.is_dir():
        blobs = sorted(folder.iterdir(), key=lambda path: path.stat().st_mtime, reverse=True)
        for path in blobs[keep:]:
            path.unlink(missing_ok=True)
        if blobs[keep:]:
            log.debug("removed %d old compiled models from %s", len(blobs) - keep, folder)
    return folder


class OpenVinoSession(ExportedGraphSession):
    """RVM run with OpenVINO's CPU plugin, one inference stream, all cores for that stream.

    ``precision="fp32"`` runs the whole network in f32, set explicitly: on CPUs with bf16 support
    OpenVINO would otherwise infer in bf16, whose error grows through the recurrent state and the
    refiner's variances until the alpha is wrong by up to 255/255 in places. ``"bf16"`` runs the network
    as three graphs (:data:`~.export.PARTS`) and only the recurrent decoder, most of the
    work, in bf16; the encoder and the refiner's statistics stay in f32 (measured at 720p: the decoder
    40 → 24 ms; the alpha's error against ground truth is
    unchanged, though single edge pixels differ from f32 by up to 13–18/255 on held-out clips). It needs
    a CPU with bf16 instructions.

    The state stays in two sets of tensors given to the infer request; each frame reads one and writes
    the other, and they swap. Forks share the compiled models, each with its own infer requests.
    Which precisions are offered is the registry's business (:mod:`livebg.matting.registry`); anything
    but ``"bf16"`` runs in f32.
    """

    backend = "openvino"

    def __init__(self, model: MattingNetwork, *args: Any, precision: str = "fp32", **kwargs: Any) -> None:
        self._core = ov.Core()
        if precision == "bf16" and "BF16" not in self._core.get_property("CPU", "OPTIMIZATION_CAPABILITIES"):
            raise UsageError("this CPU has no bf16 instructions; use --precision fp32")
        self.precision = precision
        self.split = precision == "bf16"  # before the graphs are shared: it decides how they are exported
        super().__init__(model, *args, **kwargs)
        self._core.set_property({"CACHE_DIR": str(compiled_cache(self._shared.export_folder))})

    def _compile_one(self, path: Any, shapes: dict[str, tuple[int, ...]], precision: str) -> Any:
        """The graph at ``path`` with its inputs fixed to ``shapes`` (by name; the shapes of its outputs
        are added to it), compiled in ``precision``."""
        model = self._core.read_model(str(path))
        names = {name for port in model.inputs for name in port.get_names()}
        model.reshape({name: list(shape) for name, shape in shapes.items() if name in names})
        for port in model.outputs:
            shapes[port.get_any_name()] = tuple(port.get_shape())
        return self._core.compile_model(
            model,
            "CPU",
            {
                "INFERENCE_PRECISION_HINT": precision,
                "PERFORMANCE_HINT": "LATENCY",
                "NUM_STREAMS": "1",
                "INFERENCE_NUM_THREADS": str(self.threads),
            },
        )

    def _compile(self, graph: ExportedGraph, shapes: GraphShapes) -> Any:
        """One compiled model, or with ``split`` one per part of :data:`~.export.PARTS` (a dict)."""
        known = shapes.inputs()
        if not self.split:
            return self._compile_one(graph.path, known, "f32")
        precisions = {"encoder": "f32", "decoder": "bf16", "head": "f32"}
        # In order, so each part's inputs are known from the parts before it.
        return {
            part: self._compile_one(path, known, precisions[part])
            for part, path in zip(PARTS, graph.paths, strict=True)
        }

    def _new_runner(self, compiled: Any, shapes: GraphShapes) -> GraphRunner:
        if self.split:
            return _OpenVinoPartsRunner(compiled, shapes)
        return _OpenVinoRunner(compiled, shapes)


def _run(request: Any) -> None:
    # start_async + wait rather than infer(): infer() would copy every output into new arrays.
    request.start_async()
    request.wait()


def _share(array: np.ndarray) -> ov.Tensor:
    return ov.Tensor(array, shared_memory=True)


class _OpenVinoRunner(PingPongRunner):
    def __init__(self, compiled: Any, shapes: GraphShapes) -> None:
        super().__init__(shapes, _share)
        self._request = compiled.create_infer_request()

    def _infer(self, x: np.ndarray, a: np.ndarray, b: np.ndarray) -> None:
        request = self._request
        request.set_tensor("x", self._wrap(x))
        request.set_tensor("a", self._wrap(a))
        request.set_tensor("b", self._wrap(b))
        for name, tensor in self._state_tensors():
            request.set_tensor(name, tensor)
        _run(request)


class _OpenVinoPartsRunner(PingPongRunner):
    """The three graphs of a split network, each with its own infer request. What passes between them
    (features, hidden features) lives in arrays bound once to both sides; the frame is bound to each
    part that reads it."""

    def __init__(self, compiled: dict[str, Any], shapes: GraphShapes) -> None:
        super().__init__(shapes, _share)
        self._requests = {part: model.create_infer_request() for part, model in compiled.items()}
        between = {name: compiled["encoder"].output(name) for name in PARTS["encoder"][1]}
        between["hid"] = compiled["decoder"].output("hid")
        self._reads_frame = [
            self._requests[part]
            for part, model in compiled.items()
            if any("x" in port.get_names() for port in model.inputs)
        ]
        self._between = {
            name: np.zeros(tuple(port.get_shape()), np.float32) for name, port in between.items()
        }
        for part, model in compiled.items():
            ports = {name for port in (*model.inputs, *model.outputs) for name in port.get_names()}
            for name in ports & self._between.keys():
                self._requests[part].set_tensor(name, self._wrap(self._between[name]))

    def _infer(self, x: np.ndarray, a: np.ndarray, b: np.ndarray) -> None:
        encoder, decoder, head = (self._requests[part] for part in PARTS)
        frame = self._wrap(x)
        for request in self._reads_frame:
            request.set_tensor("x", frame)
        _run(encoder)
        for name, tensor in self._state_tensors():
            decoder.set_tensor(name, tensor)
        _run(decoder)
        head.set_tensor("a", self._wrap(a))
        head.set_tensor("b", self._wrap(b))
        _run(head)
