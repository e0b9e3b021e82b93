"""Exporting the RVM network to ONNX for one frame size and downsample ratio, with a disk cache.

An exported graph has fixed shapes: input ``src`` ``(1, 3, H, W)`` float32 RGB in [0, 1] and the
recurrent states ``r1i..r4i``; outputs the refiner's low-resolution linear model ``a``, ``b``
(``(1, 4, h, w)`` each, see :meth:`MattingNetwork.coefficients`) and the next states ``r1o..r4o``. The
full-resolution step, an upsampling with no weights, is left to :mod:`livebg.matting.upsampling`: in
the graph runtimes it took a third of the time. The states live at 1/2, 1/4, 1/8 and 1/16 of the
downsampled frame; zeros start a stream (the network treats zero and missing states alike).

Graphs are cached by model weights, refiner, size, ratio and torch version, so a second session (or a
return to an earlier ratio) loads instead of exporting again.
"""

from __future__ import annotations

import copy
import hashlib
import logging
import os
import tempfile
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from livebg.models.rvm import MattingNetwork, downsample

log = logging.getLogger(__name__)

OPSET = 17
# Raise when the exported computation changes (livebg/models/rvm.py, the export wrapper), so graphs
# cached by an older livebg are not reused: 2 = explicit downsampled size, 3 = coefficients out.
GRAPH_VERSION = 3
# torch.onnx.export (and warnings.catch_warnings) keep process-wide state: one export at a time, also
# when live mode prepares graphs in a helper thread.
_EXPORTING = threading.Lock()
INPUT_NAMES = ("src", "r1i", "r2i", "r3i", "r4i")
OUTPUT_NAMES = ("a", "b", "r1o", "r2o", "r3o", "r4o")
STATE_INPUTS = INPUT_NAMES[1:]
STATE_OUTPUTS = OUTPUT_NAMES[2:]


@dataclass(frozen=True)
class ExportedGraph:
    """An ONNX file on disk, the shape of its coefficients ``a`` and ``b`` (``(1, 4, h, w)``) and of
    its recurrent states (``(1, C, h, w)`` each, r1..r4).

    ``exported`` is true when this call wrote the file (a cache miss).
    """

    path: Path
    height: int
    width: int
    ratio: float
    coefficient_shape: tuple[int, ...]
    state_shapes: tuple[tuple[int, ...], ...]
    exported: bool = False


class _ExplicitState(nn.Module):
    """The network up to its coefficients, with its four states as separate inputs and outputs and the
    ratio fixed."""

    def __init__(self, model: MattingNetwork, ratio: float) -> None:
        super().__init__()
        self.model = model
        self.ratio = ratio

    def forward(
        self, src: Tensor, r1: Tensor, r2: Tensor, r3: Tensor, r4: Tensor
    ) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]:
        a, b, (s1, s2, s3, s4) = self.model.coefficients(src, (r1, r2, r3, r4), self.ratio)
        return a, b, s1, s2, s3, s4


def exported_dir() -> Path:
    """Where exported graphs are kept: ``exported/`` in livebg's cache folder (see
    :func:`livebg.weights.cache_root`)."""
    from livebg.weights import cache_root

    return cache_root() / "exported"


def model_fingerprint(model: MattingNetwork) -> str:
    """A short hash of the network's kind and every weight, so a changed checkpoint exports afresh."""
    digest = hashlib.sha256(f"{model.variant}/{model.refiner_kind}".encode())
    for name, tensor in model.state_dict().items():
        digest.update(f"{name}:{tuple(tensor.shape)}:{tensor.dtype}".encode())
        digest.update(tensor.detach().to("cpu").reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()[:16]


@torch.inference_mode()
def graph_shapes(
    model: MattingNetwork, height: int, width: int, ratio: float
) -> tuple[tuple[int, ...], tuple[tuple[int, ...], ...]]:
    """Shapes of the coefficients and of r1..r4 for one ``(height, width)`` frame at ``ratio``, found by
    running the network once on the downsampled frame (its rounding at odd sizes is its business)."""
    probe = copy.deepcopy(model).eval() if model.training else model  # leave the caller's mode alone
    weight = next(model.parameters())
    small = downsample(torch.zeros(1, 3, height, width, device=weight.device, dtype=weight.dtype), ratio)
    _, b, state = probe.coefficients(small, (None, None, None, None), 1.0)
    return tuple(b.shape), tuple(tuple(s.shape) for s in state)


def graph_path(fingerprint: str, height: int, width: int, ratio: float, folder: Path | None = None) -> Path:
    """The cache file for one graph; the name carries every part of the key."""
    torch_version = torch.__version__.split("+")[0]
    key = f"{fingerprint}-{width}x{height}-r{ratio:.6g}-torch{torch_version}-op{OPSET}"
    name = f"rvm{GRAPH_VERSION}-{key}.onnx"
    return (folder or exported_dir()) / name


def export_graph(
    model: MattingNetwork,
    height: int,
    width: int,
    ratio: float,
    *,
    folder: Path | None = None,
    fingerprint: str | None = None,
) -> ExportedGraph:
    """The ONNX graph of ``model`` for ``(height, width)`` frames at ``ratio``, exported on a cache miss.

    The file is written to a temporary name and renamed, so a crash or a second process never leaves a
    half-written graph under the final name.
    """
    fingerprint = fingerprint or model_fingerprint(model)
    coefficient_shape, shapes = graph_shapes(model, height, width, ratio)
    path = graph_path(fingerprint, height, width, ratio, folder)
    if path.is_file():
        log.debug("exported graph cache hit: %s", path)
        return ExportedGraph(path, height, width, ratio, coefficient_shape, shapes)
    path.parent.mkdir(parents=True, exist_ok=True)
    log.info(
        "exporting %s %dx%d at ratio %g to ONNX (once; cached in %s)",
        model.variant,
        width,
        height,
        ratio,
        path.parent,
    )
    # Exporting with the TorchScript exporter alters the eager module it traces (its outputs change
    # afterwards in the same process), so a private copy is exported.
    wrapper = _ExplicitState(copy.deepcopy(model).cpu().float().eval(), ratio).eval()
    args = (torch.zeros(1, 3, height, width), *(torch.zeros(s) for s in shapes))
    fd, tmp_name = tempfile.mkstemp(prefix=path.stem + ".", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        with _EXPORTING, warnings.catch_warnings(), torch.no_grad():
            # The exporter warns about Python values traced as constants; that is intended here.
            warnings.simplefilter("ignore")
            torch.onnx.export(
                wrapper,
                args,
                tmp_name,
                input_names=list(INPUT_NAMES),
                output_names=list(OUTPUT_NAMES),
                opset_version=OPSET,
                do_constant_folding=True,
                dynamo=False,
            )
        os.replace(tmp_name, path)
    finally:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)
    return ExportedGraph(path, height, width, ratio, coefficient_shape, shapes, exported=True)
