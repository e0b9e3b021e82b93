"""The command line's parser: its choices are the code's (the registry's models, runtimes and
precisions, the network's refiners, the compositor's outputs), and building it (for ``--help``) imports
no torch, so help and usage errors come at once."""

from __future__ import annotations

import subprocess
import sys

import pytest

from livebg.cli import build_parser
from livebg.config import OUTPUT_TYPES, REFINERS
from livebg.matting import registry


def test_the_parser_offers_every_registered_model_runtime_and_precision() -> None:
    parser = build_parser()
    for name in registry.names():
        assert parser.parse_args(["video", "in.mp4", "-o", "out.mp4", "--model", name]).model == name
    for backend in ("auto", *registry.RUNTIMES):
        assert parser.parse_args(["webcam", "--backend", backend]).backend == backend
    for precision in ("auto", *registry.PRECISIONS):
        assert parser.parse_args(["bench", "--precision", precision]).precision == precision
    assert parser.parse_args(["webcam"]).model == registry.DEFAULT_MODEL


def test_every_offered_refiner_builds_a_network_whose_checkpoint_says_so() -> None:
    from livebg.models.rvm import MattingNetwork, detect_refiner

    for refiner in REFINERS:
        network = MattingNetwork("mobilenetv3", refiner)  # type: ignore[arg-type]
        assert detect_refiner(network.state_dict()) == refiner


def test_output_types_are_the_compositors() -> None:
    from livebg.backgrounds import parse_background
    from livebg.compositing import Compositor

    for output in OUTPUT_TYPES:
        assert Compositor(parse_background("green"), output=output).output == output


def test_video_and_webcam_offer_every_output_type() -> None:
    parser = build_parser()
    for output in OUTPUT_TYPES:
        video = ["video", "in.mp4", "-o", "out.mp4", "--output-type", output]
        assert parser.parse_args(video).output_type == output
        assert parser.parse_args(["webcam", "--output-type", output]).output_type == output
    assert parser.parse_args(["webcam"]).output_type == "composite"


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


def test_models_download_prepares_the_graph_for_the_first_live_start(
    rvm_checkpoint, tmp_path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("openvino")
    from livebg.cli.info import _prepare_graph

    monkeypatch.setenv("LIVEBG_CACHE_DIR", str(tmp_path))
    _prepare_graph("rvm-mobilenetv3", rvm_checkpoint)
    assert capsys.readouterr().out == (
        "rvm-mobilenetv3: graph exported and compiled for 1280x720 frames (openvino)\n"
    )
    exported = tmp_path / "exported"
    assert list(exported.glob("*.onnx")) and list((exported / "openvino").iterdir())
