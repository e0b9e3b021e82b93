"""`livebg bench` measures every stage for each backend and says which could not run."""

from __future__ import annotations

from pathlib import Path

import pytest

from livebg.bench import BenchConfig, run_bench
from livebg.cli import main
from livebg.config import ModelConfig


def test_bench_times_every_stage(rvm_checkpoint: Path) -> None:
    model = ModelConfig(weights=rvm_checkpoint, device="cpu")
    config = BenchConfig(
        frames=4, size=(64, 96), backends=("torch", "nonsense"), background="green", model=model
    )
    torch_result, bad = list(run_bench(config))
    assert torch_result.error is None and torch_result.backend == "torch"
    assert torch_result.ratio == 1.0  # 96 px is below the automatic 512 px
    for value in (torch_result.model_ms, torch_result.composite_ms, torch_result.encode_ms):
        assert 0 < value < 10_000
    assert torch_result.pipeline_fps > 0 and torch_result.latency_ms >= torch_result.model_ms
    assert bad.error and "nonsense" in bad.error


def test_bench_cli_prints_a_table(rvm_checkpoint: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["bench", "--frames", "3", "--size", "96x64", "--backends", "torch", "-b", "green"]
    assert main([*args, "--weights", str(rvm_checkpoint), "--device", "cpu"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:4] == ["backend", "ratio", "decode", "model"]
    assert lines[2].startswith("torch") and "ms" in lines[2]
    assert main([*args, "--size", "big"]) == 2
