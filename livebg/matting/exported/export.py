"""Exporting the RVM network to ONNX once per checkpoint, with a free frame size, and a disk cache.

An exported graph takes the already downsampled frame ``x`` ``(1, 3, h, w)`` float32 RGB in [0, 1]
and the recurrent states ``r1i..r4i``; it outputs the refiner's low-resolution linear model ``a``,
``b`` (``(1, 4, h, w)`` each, see :meth:`MattingNetwork.coefficients`) and the next states
``r1o..r4o``. Height and width are free, so one file serves every frame size and downsample ratio: a
runtime fixes the shapes when it compiles (:class:`GraphShapes`). The downsampling before the graph
and the full-resolution step after it (an upsampling with no weights, :mod:`.upsampling`) are left to
the caller. The states live at 1/2, 1/4, 1/8 and 1/16 of the downsampled frame; zeros start a stream
(the network treats zero and missing states alike).

There are two graphs per checkpoint: ``refined`` (a ratio below 1: the refiner's coefficients) and
not (ratio 1: no refiner, ``a`` is zero and ``b`` the outputs themselves). They are cached by model
weights, refiner, kind and torch version; graphs of an older livebg are removed when a new one is
written.
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
from livebg.weights import cache_root

log = logging.getLogger(__name__)

OPSET = 17
# Raise when the exported computation changes (livebg/models/rvm.py, the export wrappers), so graphs
# cached by an older livebg are not reused: 2 = explicit downsampled size, 3 = coefficients out,
# 4 = a free frame size, the downsampling left to the caller.
GRAPH_VERSION = 4
# torch.onnx.export (and warnings.catch_warnings) keep process-wide state: one export at a time, also
# when live mode prepares graphs in a helper thread.
_EXPORTING = threading.Lock()
INPUT_NAMES = ("x", "r1i", "r2i", "r3i", "r4i")
OUTPUT_NAMES = ("a", "b", "r1o", "r2o", "r3o", "r4o")
STATE_INPUTS = INPUT_NAMES[1:]
STATE_OUTPUTS = OUTPUT_NAMES[2:]
FEATURES = ("f1", "f2", "f3", "f4")
# The network in three graphs, for runtimes that run each part in its own precision: the encoder
# (x -> features), the recurrent decoder (-> hidden features and next state) and the head (->
# coefficients). Names of each part's inputs and outputs.
PARTS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "encoder": (("x",), FEATURES),
    "decoder": (("x", *FEATURES, *STATE_INPUTS), ("hid", *STATE_OUTPUTS)),
    "head": (("x", "hid"), ("a", "b")),
}
# The size the graphs are traced at. Odd on purpose: the decoder crops its upsampled features to the
# skip connections' size, which must stay a computation in the graph, not a traced constant.
_TRACE_SIZE = (75, 133)
# The head only asks whether the ratio is 1; any ratio below 1 gives the refined graph.
_HEAD_RATIO = {True: 0.5, False: 1.0}


@dataclass(frozen=True)
class ExportedGraph:
    """ONNX files on disk: ``paths`` holds one graph of the whole network, or with ``split`` one per
    entry of :data:`PARTS`, in that order. ``exported`` is true when this call wrote the files (a
    cache miss)."""

    paths: tuple[Path, ...]
    exported: bool = False

    @property
    def path(self) -> Path:
        """The one graph of the whole network (not split)."""
        (path,) = self.paths
        return path


@dataclass(frozen=True)
class GraphShapes:
    """The shapes a graph runs at for frames downsampled by ``ratio``: the downsampled frame ``x``, the
    coefficients ``a`` and ``b`` (``(1, 4, h, w)``) and the recurrent states r1..r4."""

    ratio: float
    frame: tuple[int, ...]
    coefficients: tuple[int, ...]
    states: tuple[tuple[int, ...], ...]

    @property
    def refined(self) -> bool:
        return self.ratio != 1

    def inputs(self) -> dict[str, tuple[int, ...]]:
        """Shape of each input of the whole graph, by name."""
        return dict(zip(INPUT_NAMES, (self.frame, *self.states), strict=True))


class _Network(nn.Module):
    """The network from the downsampled frame up to its coefficients, with its four states as separate
    inputs and outputs."""

    def __init__(self, model: MattingNetwork, refined: bool) -> None:
        super().__init__()
        self.model = model
        self.ratio = _HEAD_RATIO[refined]

    def forward(
        self, x: Tensor, r1: Tensor, r2: Tensor, r3: Tensor, r4: Tensor
    ) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]:
        hid, (s1, s2, s3, s4) = self.model.decode(x, self.model.encode(x), (r1, r2, r3, r4))
        a, b = self.model.head(x, hid, self.ratio)
        return a, b, s1, s2, s3, s4


class _Encoder(nn.Module):
    def __init__(self, model: MattingNetwork) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: Tensor) -> tuple[Tensor, ...]:
        return self.model.encode(x)


class _Decoder(nn.Module):
    def __init__(self, model: MattingNetwork) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: Tensor, *tensors: Tensor) -> tuple[Tensor, ...]:
        f1, f2, f3, f4, r1, r2, r3, r4 = tensors
        hid, state = self.model.decode(x, (f1, f2, f3, f4), (r1, r2, r3, r4))
        return hid, *state


class _Head(nn.Module):
    def __init__(self, model: MattingNetwork, refined: bool) -> None:
        super().__init__()
        self.model = model
        self.ratio = _HEAD_RATIO[refined]

    def forward(self, x: Tensor, hid: Tensor) -> tuple[Tensor, Tensor]:
        return self.model.head(x, hid, self.ratio)


def exported_dir() -> Path:
    """Where exported graphs are kept: ``exported/`` in livebg's cache folder (see
    :func:`livebg.weights.cache_root`)."""
    return cache_root() / "exported"


def model_fingerprint(model: MattingNetwork) -> str:
    """A short hash of the network's kind and every weight, so a changed checkpoint exports afresh."""
    digest = hashlib.sha256(f"{model.variant}/{model.refiner_kind}".encode())
    for name, tensor in model.state_dict().items():
        digest.update(f"{name}:{tuple(tensor.shape)}:{tensor.dtype}".encode())
        digest.update(tensor.detach().to("cpu").reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()[:16]


@torch.inference_mode()
def graph_shapes(model: MattingNetwork, height: int, width: int, ratio: float) -> GraphShapes:
    """The shapes for one ``(height, width)`` frame at ``ratio``, found by running the network once on
    the downsampled frame (its rounding at odd sizes is its business)."""
    probe = copy.deepcopy(model).eval() if model.training else model  # leave the caller's mode alone
    weight = next(model.parameters())
    small = downsample(torch.zeros(1, 3, height, width, device=weight.device, dtype=weight.dtype), ratio)
    _, b, state = probe.coefficients(small, (None, None, None, None), 1.0)
    return GraphShapes(
        ratio,
        tuple(small.shape),
        tuple(b.shape),
        tuple(tuple(s.shape) for s in state),
    )


def graph_path(fingerprint: str, refined: bool, folder: Path | None = None, part: str | None = None) -> Path:
    """The cache file for one graph (or one ``part`` of a split network); the name carries every part
    of the key."""
    torch_version = torch.__version__.split("+")[0]
    kind = "refined" if refined else "direct"
    key = f"{fingerprint}-{kind}-torch{torch_version}-op{OPSET}"
    name = f"rvm{GRAPH_VERSION}-{key}{'-' + part if part else ''}.onnx"
    return (folder or exported_dir()) / name


def export_graph(
    model: MattingNetwork,
    refined: bool,
    *,
    split: bool = False,
    folder: Path | None = None,
    fingerprint: str | None = None,
) -> ExportedGraph:
    """The ONNX graph of ``model`` (``refined``: for ratios below 1; with ``split``: its three
    :data:`PARTS`), exported on a cache miss.

    Each file is written to a temporary name and renamed, so a crash or a second process never leaves a
    half-written graph under the final name.
    """
    fingerprint = fingerprint or model_fingerprint(model)
    names = list(PARTS) if split else [None]
    paths = tuple(graph_path(fingerprint, refined, folder, part) for part in names)
    graph = ExportedGraph(paths)
    if all(path.is_file() for path in paths):
        log.debug("exported graph cache hit: %s", paths[0])
        return graph
    paths[0].parent.mkdir(parents=True, exist_ok=True)
    _remove_older_versions(paths[0].parent)
    log.info("exporting %s to ONNX (once; cached in %s)", model.variant, paths[0].parent)
    # Exporting with the TorchScript exporter alters the eager module it traces (its outputs change
    # afterwards in the same process), so a private copy is exported.
    private = copy.deepcopy(model).cpu().float().eval()
    shapes = graph_shapes(private, *_TRACE_SIZE, 1.0)
    x = torch.zeros(shapes.frame)
    states = tuple(torch.zeros(s) for s in shapes.states)
    if not split:
        _write(_Network(private, refined), (x, *states), INPUT_NAMES, OUTPUT_NAMES, paths[0])
        return replace(graph, exported=True)
    with torch.no_grad():
        features = _Encoder(private)(x)
        hid = _Decoder(private)(x, *features, *states)[0]
    examples = {"encoder": (x,), "decoder": (x, *features, *states), "head": (x, hid)}
    modules = {"encoder": _Encoder(private), "decoder": _Decoder(private), "head": _Head(private, refined)}
    for part, path in zip(PARTS, paths, strict=True):
        _write(modules[part], examples[part], *PARTS[part], path)
    return replace(graph, exported=True)


def _remove_older_versions(folder: Path) -> None:
    """Delete graphs written by an older livebg (a lower ``GRAPH_VERSION``): nothing reads them. A newer
    livebg's graphs are left alone (two installs may share the cache)."""
    stale = []
    for path in folder.glob("rvm*-*.onnx"):
        version = path.name[3:].split("-", 1)[0]
        if version.isdigit() and int(version) < GRAPH_VERSION:
            stale.append(path)
    for path in stale:
        path.unlink(missing_ok=True)
    if stale:
        log.info("removed %d graphs exported by an older livebg from %s", len(stale), folder)


def _write(
    module: nn.Module, args: tuple[Tensor, ...], inputs: tuple[str, ...], outputs: tuple[str, ...], path: Path
) -> None:
    # Every tensor is (1, C, height, width) with a free height and width, each named after its tensor.
    free = {name: {2: f"{name}_height", 3: f"{name}_width"} for name in (*inputs, *outputs)}
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
                dynamic_axes=free,
                opset_version=OPSET,
                do_constant_folding=True,
                dynamo=False,
            )
        os.replace(tmp_name, path)
    finally:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)
