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
from dataclasses import dataclass, replace
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
FEATURES = ("f1", "f2", "f3", "f4")
# The network in three graphs, for runtimes that run each part in its own precision: the encoder
# (src -> downsampled frame x and features), the recurrent decoder (-> hidden features and next state)
# and the head (-> coefficients). Names of each part's inputs and outputs.
PARTS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "encoder": (("src",), ("x", *FEATURES)),
    "decoder": (("x", *FEATURES, *STATE_INPUTS), ("hid", *STATE_OUTPUTS)),
    "head": (("x", "hid"), ("a", "b")),
}


@dataclass(frozen=True)
class ExportedGraph:
    """ONNX files on disk: ``paths`` holds one graph of the whole network, or with ``split`` one per
    entry of :data:`PARTS`, in that order. Also the shape of the coefficients ``a`` and ``b``
    (``(1, 4, h, w)``) and of the recurrent states (``(1, C, h, w)`` each, r1..r4).

    ``exported`` is true when this call wrote a file (a cache miss).
    """

    paths: tuple[Path, ...]
    height: int
    width: int
    ratio: float
    coefficient_shape: tuple[int, ...]
    state_shapes: tuple[tuple[int, ...], ...]
    exported: bool = False

    @property
    def path(self) -> Path:
        """The one graph of the whole network (not split)."""
        (path,) = self.paths
        return path


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


class _Encoder(nn.Module):
    def __init__(self, model: MattingNetwork, ratio: float) -> None:
        super().__init__()
        self.model = model
        self.ratio = ratio

    def forward(self, src: Tensor) -> tuple[Tensor, ...]:
        x = downsample(src, self.ratio)
        return x, *self.model.encode(x)


class _Decoder(nn.Module):
    def __init__(self, model: MattingNetwork) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: Tensor, *tensors: Tensor) -> tuple[Tensor, ...]:
        f1, f2, f3, f4, r1, r2, r3, r4 = tensors
        hid, state = self.model.decode(x, (f1, f2, f3, f4), (r1, r2, r3, r4))
        return hid, *state


class _Head(nn.Module):
    def __init__(self, model: MattingNetwork, ratio: float) -> None:
        super().__init__()
        self.model = model
        self.ratio = ratio

    def forward(self, x: Tensor, hid: Tensor) -> tuple[Tensor, Tensor]:
        return self.model.head(x, hid, self.ratio)


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


def graph_path(
    fingerprint: str,
    height: int,
    width: int,
    ratio: float,
    folder: Path | None = None,
    part: str | None = None,
) -> Path:
    """The cache file for one graph (or one ``part`` of a split network); the name carries every part
    of the key."""
    torch_version = torch.__version__.split("+")[0]
    key = f"{fingerprint}-{width}x{height}-r{ratio:.6g}-torch{torch_version}-op{OPSET}"
    name = f"rvm{GRAPH_VERSION}-{key}{'-' + part if part else ''}.onnx"
    return (folder or exported_dir()) / name


def export_graph(
    model: MattingNetwork,
    height: int,
    width: int,
    ratio: float,
    *,
    split: bool = False,
    folder: Path | None = None,
    fingerprint: str | None = None,
) -> ExportedGraph:
    """The ONNX graph of ``model`` for ``(height, width)`` frames at ``ratio`` (with ``split``: its
    three :data:`PARTS`), exported on a cache miss.

    Each file is written to a temporary name and renamed, so a crash or a second process never leaves a
    half-written graph under the final name.
    """
    fingerprint = fingerprint or model_fingerprint(model)
    coefficient_shape, shapes = graph_shapes(model, height, width, ratio)
    names = list(PARTS) if split else [None]
    paths = tuple(graph_path(fingerprint, height, width, ratio, folder, part) for part in names)
    graph = ExportedGraph(paths, height, width, ratio, coefficient_shape, shapes)
    if all(path.is_file() for path in paths):
        log.debug("exported graph cache hit: %s", paths[0])
        return graph
    paths[0].parent.mkdir(parents=True, exist_ok=True)
    log.info(
        "exporting %s %dx%d at ratio %g to ONNX (once; cached in %s)",
        model.variant,
        width,
        height,
        ratio,
        paths[0].parent,
    )
    # Exporting with the TorchScript exporter alters the eager module it traces (its outputs change
    # afterwards in the same process), so a private copy is exported.
    private = copy.deepcopy(model).cpu().float().eval()
    src = torch.zeros(1, 3, height, width)
    states = tuple(torch.zeros(s) for s in shapes)
    if not split:
        _write(_ExplicitState(private, ratio), (src, *states), INPUT_NAMES, OUTPUT_NAMES, paths[0])
        return replace(graph, exported=True)
    with torch.no_grad():
        x, *features = _Encoder(private, ratio)(src)
        hid = _Decoder(private)(x, *features, *states)[0]
    examples = {"encoder": (src,), "decoder": (x, *features, *states), "head": (x, hid)}
    modules = {
        "encoder": _Encoder(private, ratio),
        "decoder": _Decoder(private),
        "head": _Head(private, ratio),
    }
    for part, path in zip(PARTS, paths, strict=True):
        _write(modules[part], examples[part], *PARTS[part], path)
    return replace(graph, exported=True)


def _write(
    module: nn.Module, args: tuple[Tensor, ...], inputs: tuple[str, ...], outputs: tuple[str, ...], path: Path
) -> None:
    fd, tmp_name = tempfile.mkstemp(prefix=path.stem + ".", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        with _EXPORTING, warnings.catch_warnings(), torch.no_grad():
            # The exporter warns about Python values traced as constants; that is intended here.
            warnings.simplefilter("ignore")
            torch.onnx.export(
                module.eval(),
                args,
                tmp_name,
                input_names=list(inputs),
                output_names=list(outputs),
                opset_version=OPSET,
                do_constant_folding=True,
                dynamo=False,
            )
        os.replace(tmp_name, path)
    finally:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)
