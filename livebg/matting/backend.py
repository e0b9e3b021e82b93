"""Which runtime executes the matting network: PyTorch, ONNX Runtime or OpenVINO.

On a GPU (CUDA, MPS) PyTorch is the fast choice. On a CPU the exported graph runs faster in ONNX
Runtime or OpenVINO; both are optional extras, imported only when chosen.
"""

from __future__ import annotations

import importlib
import logging
from types import ModuleType

import torch

from livebg.config import BACKENDS
from livebg.errors import MissingDependencyError, UsageError
from livebg.matting.session import MattingSession
from livebg.models.rvm import MattingNetwork

log = logging.getLogger(__name__)

# Measured on a 2-core x86 CPU at 720p (benchmarks/), since the graphs end at the refiner's
# coefficients: OpenVINO 68 ms against ONNX Runtime's 84 ms per frame at ratio 0.375, and faster live at
# every ratio (clip paced at 30 fps: 29.0 against 27.2 fps at 0.1875, 22.9 against 19.6 at 0.25).
_CPU_PREFERENCE = ("openvino", "onnxruntime")
_INSTALL = {
    "onnxruntime": 'pip install "livebg[onnx]"',
    "openvino": 'pip install "livebg[openvino]"',
}


def import_runtime(backend: str) -> ModuleType:
    """Import the runtime package of ``backend`` (``onnxruntime`` or ``openvino``) or raise
    :class:`MissingDependencyError` with the pip command that installs it."""
    try:
        return importlib.import_module(backend)
    except (ImportError, OSError) as exc:  # OSError: the package is there but its libraries are not
        raise MissingDependencyError(
            f"--backend {backend} needs the {backend} package, which cannot be imported ({exc}); "
            f"install it with: {_INSTALL[backend]}, or use --backend torch"
        ) from exc


def runtime_available(backend: str) -> bool:
    """Whether ``backend``'s runtime imports (``torch`` always does)."""
    if backend == "torch":
        return True
    try:
        import_runtime(backend)
    except MissingDependencyError:
        return False
    return True


def choose_backend(requested: str, device: torch.device) -> str:
    """The backend to run on ``device``: ``requested`` itself, or for ``auto`` PyTorch on a GPU and
    the fastest importable runtime on a CPU.

    An explicit runtime that is not installed is a :class:`MissingDependencyError`; ONNX Runtime and
    OpenVINO on a GPU device are a :class:`UsageError` (they run on the CPU here).
    """
    if requested not in BACKENDS:
        raise UsageError(f"unknown backend {requested!r}; use one of {', '.join(BACKENDS)}")
    if requested == "auto":
        if device.type != "cpu":
            return "torch"
        for backend in _CPU_PREFERENCE:
            if runtime_available(backend):
                log.debug("--backend auto chose %s for the CPU", backend)
                return backend
        log.debug("no ONNX Runtime or OpenVINO; %s makes the CPU faster", _INSTALL["onnxruntime"])
        return "torch"
    if requested != "torch":
        if device.type != "cpu":
            raise UsageError(
                f"--backend {requested} runs on the CPU only, but the device is {device}; "
                "use --device cpu, or --backend torch or auto"
            )
        import_runtime(requested)
    return requested


def create_exported_session(
    backend: str,
    model: MattingNetwork,
    *,
    downsample_ratio: float | None = None,
    precision: str = "auto",
    name: str = "rvm",
) -> MattingSession:
    """A CPU session running ``model``'s exported graph in ``backend`` (``onnxruntime`` or ``openvino``).

    fp32 by default. OpenVINO also offers ``bf16`` (its decoder in bf16, see
    :class:`~livebg.matting.openvino_session.OpenVinoSession`): faster, but its alpha strays up to 3/255
    from fp32, so it is chosen, never automatic. fp16 is for GPUs.
    """
    offered = ("auto", "fp32", "bf16") if backend == "openvino" else ("auto", "fp32")
    if precision not in offered:
        raise UsageError(
            f"--precision {precision} is not available with --backend {backend}; "
            f"use --precision {' or '.join(offered)}"
            + (", or --backend openvino for bf16" if precision == "bf16" else ", or --backend torch")
        )
    if backend == "onnxruntime":
        from livebg.matting.onnx_session import OnnxSession

        return OnnxSession(model, downsample_ratio, name)
    if backend == "openvino":
        from livebg.matting.openvino_session import OpenVinoSession

        return OpenVinoSession(
            model, downsample_ratio, name, precision="bf16" if precision == "bf16" else "fp32"
        )
    raise UsageError(f"backend {backend!r} has no exported session; use onnxruntime or openvino")
