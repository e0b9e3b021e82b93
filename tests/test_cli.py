"""The command line's parser: its choices agree with the code behind them, and building it (for
``--help``) imports no torch, so help and usage errors come at once."""

from __future__ import annotations

import subprocess
import sys
import typing

import pytest

from livebg.cli import build_parser
from livebg.config import BACKENDS, MODEL_NAMES, OUTPUT_TYPES, PRECISIONS, REFINERS, RVM_MODELS
from livebg.matting.backend import choose_backend
from livebg.matting.factory import RVM_VARIANTS, resolve_dtype
from livebg.models.rvm import Refiner
from livebg.models.segmentation import SEGMENTATION_MODELS


def test_the_offered_names_are_the_implemented_ones() -> None:
    assert tuple(RVM_VARIANTS) == RVM_MODELS
    assert (*RVM_VARIANTS, *SEGMENTATION_MODELS) == MODEL_NAMES
    assert typing.get_args(Refiner) == REFINERS


def test_every_offered_backend_and_precision_is_understood() -> None:
    import torch

    cpu = torch.device("cpu")
    for backend in BACKENDS:
        if backend in ("onnxruntime", "openvino"):
            pytest.importorskip(backend)
        assert choose_backend(backend, cpu) in BACKENDS
    for precision in ("auto", "fp32"):
        assert resolve_dtype(precision, cpu) == torch.float32
    assert set(PRECISIONS) == {"auto", "fp32", "fp16", "bf16"}


def test_output_types_are_the_compositors() -> None:
    from livebg.backgrounds import parse_background
    from livebg.compositing import Compositor

    for output in OUTPUT_TYPES:
        assert Compositor(parse_background("green"), output=output).output == output


@pytest.mark.parametrize("command", [[], ["video"], ["webcam"], ["bench"], ["models"], ["cameras"]])
def test_help_imports_no_torch(command: list[str]) -> None:
    code = (
        "import sys\n"
        "from livebg.cli import main\n"
        "try:\n"
        f"    main({[*command, '--help']!r})\n"
        "except SystemExit as exit:\n"
        "    assert exit.code == 0, exit.code\n"
        "heavy = ('torch', 'torchvision', 'av', 'openvino', 'onnxruntime')\n"
        "print('imported:', [m for m in heavy if m in sys.modules])\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "usage: livebg" in done.stdout
    assert done.stdout.strip().endswith("imported: []")


def test_a_usage_error_names_the_choices() -> None:
    with pytest.raises(SystemExit) as caught:
        build_parser().parse_args(["video", "in.mp4", "--model", "u2net"])
    assert caught.value.code == 2
