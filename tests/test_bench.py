"""`livebg bench` measures every stage for each backend and says which could not run."""

from __future__ import annotations

from pathlib import Path

import pytest

from livebg.bench import BenchConfig, run_bench
from livebg.cli import main
from livebg.config import ModelConfig
from livebg.machine import cpu_summary
from tests.media import make_clip


def test_bench_times_every_stage(rvm_checkpoint: Path) -> None:
    model = ModelConfig(weights=rvm_checkpoint, device="cpu")
    config = BenchConfig(
        frames=4, size=(64, 96), backends=("torch", "nonsense"), background="green", model=model
    )
    torch_result, bad = list(run_bench(config))
    assert torch_result.error is None and torch_result.backend == "torch"
    assert torch_result.ratio == 1.0  # 96 px is below the automatic 512 px
    # Every frame went through the model stage once, after the warm-up, and the whole synthetic clip
    # through the file pipeline; synthetic frames are not decoded.
    assert torch_result.frames == torch_result.pipeline_frames == 4
    assert torch_result.decode_ms == 0
    assert min(torch_result.model_ms, torch_result.composite_ms, torch_result.encode_ms) > 0
    assert torch_result.pipeline_fps > 0 and torch_result.latency_p95_ms >= torch_result.latency_ms
    assert bad.error and "nonsense" in bad.error and bad.frames == 0


def test_bench_on_a_clip_times_its_first_frames_and_runs_all_of_it(
    rvm_checkpoint: Path, tmp_path: Path
) -> None:
    clip = make_clip(tmp_path / "six.mp4", size=(48, 64), frames=6)
    model = ModelConfig(weights=rvm_checkpoint, device="cpu")
    config = BenchConfig(clip=clip, frames=3, backends=("torch",), background="blur", model=model)
    (result,) = run_bench(config)
    assert result.error is None
    assert (result.frames, result.pipeline_frames) == (3, 6)
    assert result.decode_ms > 0


def test_bench_cli_prints_a_table(rvm_checkpoint: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["bench", "--frames", "3", "--size", "96x64", "--backends", "torch", "-b", "green"]
    assert main([*args, "--weights", str(rvm_checkpoint), "--device", "cpu"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"cpu: {cpu_summary()}"
    assert lines[1].split()[:4] == ["backend", "ratio", "decode", "model"]
    assert lines[3].startswith("torch") and "ms" in lines[3]
    assert main([*args, "--size", "big"]) == 2
    for size in ("0x0", "101x51"):
        assert main([*args, "--size", size]) == 2, size
    with pytest.raises(SystemExit) as refused:  # argparse's own refusal
        main([*args, "--frames", "0"])
    assert refused.value.code == 2
    err = capsys.readouterr().err
    assert "livebg: error: --size 0x0 is not accepted; give even sides of 2 or more" in err
    assert "--frames: 0 is not a positive number" in err and "Traceback" not in err
