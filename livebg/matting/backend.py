"""Which runtime runs a model, and in which precision: the one place that checks that a model, a runtime,
a precision and a device go together.

On a GPU (CUDA, MPS) PyTorch is the fast choice. On a CPU the exported graph runs faster in ONNX
Runtime or OpenVINO; both are optional extras, imported only when chosen. What each model offers is in
:mod:`livebg.matting.registry`; the runtimes' sessions (:mod:`livebg.matting.exported`) do not import
this module.
"""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass
from types import ModuleType

import torch

from livebg.config import ModelConfig
from livebg.device import default_dtype
from livebg.errors import MissingDependencyError, UsageError
from livebg.matting import registry
from livebg.matting.session import check_ratio

log = logging.getLogger(__name__)

# Measured on a 2-core x86 CPU at 720p (benchmarks/), since the graphs end at the refiner's
# coefficients: OpenVINO 68 ms against ONNX Runtime's 84 ms per frame at ratio 0.375, and faster live at
# every ratio (clip paced at 30 fps: 29.0 against 27.2 fps at 0.1875, 22.9 against 19.6 at 0.25).
_CPU_PREFERENCE = ("openvino", "onnxruntime")
_INSTALL = {
    "onnxruntime": 'pip install "livebg[onnx]"',
    "openvino": 'pip install "livebg[openvino]"',
}


@dataclass(frozen=True)
class Runtime:
    """How a model runs: ``backend`` (``torch``, ``onnxruntime``, ``openvino``), ``precision``
    (``fp32``, ``fp16``, ``bf16``), and ``dtype``, the dtype of the frames the session takes and of
    the mattes it returns (float32 for the exported graphs, whatever precision runs inside)."""

    backend: str
    precision: str
    dtype: torch.dtype


def resolve(config: ModelConfig, device: torch.device) -> Runtime:
    """The runtime and precision to run ``config``'s model on ``device``, checked before anything is
    loaded.

    ``auto`` backend: PyTorch on a GPU, the fastest importable runtime that offers the precision on a
    CPU. ``auto`` precision: fp16 for PyTorch on CUDA, else fp32. An unknown model, backend or
    precision, a combination the model's runtimes do not offer, or a downsample ratio outside (0, 1] is
    a :class:`UsageError`; a chosen runtime that is not installed is a :class:`MissingDependencyError`.
    """
    spec = registry.get(config.name)
    check_ratio(config.downsample_ratio)
    if config.precision not in ("auto", *registry.PRECISIONS):
        raise UsageError(
            f"unknown precision {config.precision!r}; use one of auto, {', '.join(registry.PRECISIONS)}"
        )
    backend = choose_backend(config.backend, device, spec.name, config.precision)
    offered = spec.runtimes[backend]
    if config.precision == "auto":
        precision = "fp16" if backend == "torch" and default_dtype(device) == torch.float16 else "fp32"
    elif config.precision in offered:
        precision = config.precision
    else:
        raise UsageError(_not_offered(spec, backend, config.precision))
    dtype = torch.float16 if precision == "fp16" else torch.float32
    return Runtime(backend, precision, dtype)


def choose_backend(
    requested: str, device: torch.device, model: str = registry.DEFAULT_MODEL, precision: str = "auto"
) -> str:
    """The backend to run ``model`` on ``device``: ``requested`` itself, or for ``auto`` PyTorch on a
    GPU and the fastest importable runtime (that offers ``precision``, unless ``auto``) on a CPU.

    An explicit runtime that is not installed is a :class:`MissingDependencyError`; ONNX Runtime and
    OpenVINO on a GPU device, and a runtime that does not run ``model``, are a :class:`UsageError`.
    """
    if requested not in ("auto", *registry.RUNTIMES):
        raise UsageError(f"unknown backend {requested!r}; use one of auto, {', '.join(registry.RUNTIMES)}")
    offered = registry.get(model).runtimes
    if requested == "auto":
        if device.type != "cpu":
            return "torch"
        exported = [b for b in _CPU_PREFERENCE if b in offered]
        for backend in exported:
            if (precision == "auto" or precision in offered[backend]) and runtime_available(backend):
                log.debug("--backend auto chose %s for the CPU", backend)
                return backend
        if exported:
            log.debug("no ONNX Runtime or OpenVINO; %s makes the CPU faster", _INSTALL["onnxruntime"])
        return "torch"
    if requested not in offered:
        runs = " and ".join(name for name in registry.names() if requested in registry.get(name).runtimes)
        raise UsageError(
            f"--backend {requested} runs {runs} only; {model} runs with --backend "
            f"{' or '.join((*offered, 'auto'))}"
        )
    if requested != "torch":
        if device.type != "cpu":
            raise UsageError(
                f"--backend {requested} runs on the CPU only, but the device is {device}; "
                "use --device cpu, or --backend torch or auto"
            )
        import_runtime(requested)
    return requested


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


def _not_offered(spec: registry.ModelSpec, backend: str, precision: str) -> str:
    """Why ``precision`` cannot run ``spec`` with ``backend``, and what to use instead."""
    offered = spec.runtimes[backend]
    choices = ("auto", *offered)
    instead = f"--precision {', '.join(choices[:-1])} or {choices[-1]} with --backend {backend}"
    others = [b for b, precisions in spec.runtimes.items() if precision in precisions]
    if not others:
        return f"--precision {precision} is not offered for {spec.name}; use {instead}"
    return (
        f"--precision {precision} is offered by --backend {' or '.join(others)} (not {backend}); "
        f"use --backend {' or '.join(others)} for {precision}, or {instead}"
    )
