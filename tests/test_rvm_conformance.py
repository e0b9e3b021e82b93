"""Our RVM network against the official network's outputs (``shared/models/rvm_reference.npz``)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from livebg.matting.factory import load_rvm
from livebg.models.rvm import MattingNetwork

CASES = {
    # case: (variant, refiner, weights)
    "mbv3_fgf_dr1.0": ("mobilenetv3", "fast_guided_filter", "checkpoint"),
    "mbv3_fgf_dr0.5": ("mobilenetv3", "fast_guided_filter", "checkpoint"),
    "mbv3_dgf_dr0.5": ("mobilenetv3", "deep_guided_filter", "rule"),
    "r50_dgf_dr1.0": ("resnet50", "deep_guided_filter", "rule"),
    "r50_dgf_dr0.5": ("resnet50", "deep_guided_filter", "rule"),
}
TOLERANCE = 1e-4


def rule_weights(layout: dict[str, dict], variant: str) -> dict[str, torch.Tensor]:
    """The deterministic weights described in shared/models/README.md (one generator, file order)."""
    g = torch.Generator().manual_seed(0)
    state: dict[str, torch.Tensor] = {}
    for key, info in layout[variant].items():
        shape = info["shape"]
        if key.endswith("num_batches_tracked"):
            state[key] = torch.tensor(0)
        elif key.endswith("running_mean"):
            state[key] = 0.1 * torch.randn(shape, generator=g)
        elif key.endswith("running_var"):
            state[key] = 0.5 + torch.rand(shape, generator=g)
        elif len(shape) >= 2:
            state[key] = torch.randn(shape, generator=g) * math.sqrt(1 / math.prod(shape[1:]))
        elif key.endswith("weight"):
            state[key] = 1 + 0.1 * torch.randn(shape, generator=g)
        else:
            state[key] = 0.1 * torch.randn(shape, generator=g)
    return state


@pytest.fixture(scope="module")
def reference(shared_dir: Path) -> np.lib.npyio.NpzFile:
    path = shared_dir / "models" / "rvm_reference.npz"
    if not path.is_file():
        pytest.skip(f"{path} not present")
    return np.load(path)


@pytest.mark.parametrize("case", sorted(CASES))
def test_network_reproduces_official_outputs(case: str, reference, shared_dir: Path) -> None:
    variant, refiner, weights = CASES[case]
    if weights == "checkpoint":
        name = "rvm-mobilenetv3"
        model = load_rvm(name, shared_dir / "models" / "rvm_mobilenetv3_tfjs.pth")
        assert model.refiner_kind == refiner  # detected: the checkpoint has no refiner keys
    else:
        layout = json.loads((shared_dir / "models" / "rvm_state_dict_layout.json").read_text())
        model = MattingNetwork(variant, refiner).eval()
        model.load_state_dict(rule_weights(layout, variant), strict=True)

    src = torch.from_numpy(reference[f"{case}/src"]).float() / 255
    ratio = float(reference[f"{case}/ratio"])
    state = seg_state = (None, None, None, None)
    with torch.inference_mode():
        for i in range(src.shape[0]):
            frame = src[i : i + 1]
            fgr, pha, state = model(frame, state, ratio)
            seg, seg_state = model.segment(frame, seg_state, ratio)
            for name, ours in [("fgr", fgr), ("pha", pha)] + [(f"r{j + 1}_", state[j]) for j in range(4)]:
                key = f"{case}/{name}{i}"
                theirs = torch.from_numpy(reference[key])
                assert ours[0].shape == theirs.shape, key
                err = (ours[0] - theirs).abs().max().item()
                assert err <= TOLERANCE, f"{key}: max abs difference {err:.2e}"
            theirs = torch.from_numpy(reference[f"{case}/seg{i}"])
            err = ((seg[0] - theirs).abs().max() / (theirs.max() - theirs.min())).item()
            assert err <= TOLERANCE, f"{case}/seg{i}: max abs difference {err:.2e} of the logits' range"


def test_checkpoint_loads_strict_in_official_layout(shared_dir: Path) -> None:
    """Every key of the official layout except the refiner's exists in our network, same shapes."""
    layout = json.loads((shared_dir / "models" / "rvm_state_dict_layout.json").read_text())
    for variant in ("mobilenetv3", "resnet50"):
        ours = MattingNetwork(variant).state_dict()
        official = layout[variant]
        assert list(ours) == list(official), variant
        for key, info in official.items():
            assert list(ours[key].shape) == info["shape"], key
