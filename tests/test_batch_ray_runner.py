"""A batch on a local Ray cluster started by the tests: the same outputs as a local run, resume, a
worker killed mid-clip, and one clip in chunks across the workers."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Iterator
from fractions import Fraction
from functools import partial
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from livebg.batch.job import process_batch
from livebg.batch.manifest import MANIFEST_NAME
from livebg.batch.ray_runner import connect, import_ray, keep_sigterm_handler
from livebg.errors import MissingDependencyError, UsageError
from tests.fakes import DiscMatter
from tests.media import make_clip, probe, read_frames

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[Any]:
    """Ray on this machine with two CPUs, once for the module; its workers import this checkout."""
    ray = pytest.importorskip("ray", reason="ray is not installed (pip install 'livebg[ray]')")
    previous = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), previous]))
    with keep_sigterm_handler():  # the next tests' signal handling stays as it was
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        yield ray
    finally:
        with keep_sigterm_handler():
            ray.shutdown()
        if previous is None:
            del os.environ["PYTHONPATH"]
        else:
            os.environ["PYTHONPATH"] = previous


@pytest.fixture(scope="module")
def ray_run(ray_cluster: Any, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Any]:
    """One batch on Ray (worker start-up is the slow part, so the tests share it): a clip with audio,
    a still and a 2 s clip cut into 0.5 s chunks, while the first worker to reach a second frame dies.
    Returns the input folder, the output folder and the result."""
    root = tmp_path_factory.mktemp("ray")
    folder = root / "in"
    (folder / "sub").mkdir(parents=True)
    make_clip(folder / "sub" / "a.mp4", frames=6, audio=True)
    make_clip(folder / "long.mp4", frames=40, rate=Fraction(20), audio=True)
    cv2.imwrite(str(folder / "p.png"), np.full((32, 24, 3), 200, np.uint8))
    flag = root / "die-once"
    flag.touch()
    trouble = partial(DiscMatter, die_flag=flag)
    options = {"recursive": True, "chunk_seconds": 0.5, "warmup": 3}
    result = process_batch(folder, root / "ray", ray="auto", processor=trouble, **options)
    assert not flag.exists()  # a worker did die
    return folder, root / "ray", result


def _files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def test_missing_ray_is_one_sentence_with_the_pip_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(
        MissingDependencyError, match=r"--ray needs the ray package.*pip install 'livebg\[ray\]'"
    ):
        import_ray()


def test_joining_ray_keeps_livebgs_sigterm_handler_and_checks_the_address() -> None:
    class StandIn:  # what ray.init does to the driver's SIGTERM handler
        def is_initialized(self) -> bool:
            return False

        def init(self, **options: object) -> None:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)

    def ours(signum: int, frame: object) -> None: ...

    previous = signal.signal(signal.SIGTERM, ours)
    try:
        assert connect(StandIn(), "local") is True
        assert signal.getsignal(signal.SIGTERM) is ours
        with pytest.raises(UsageError, match="--ray nowhere: give auto, ray://HOST:10001, HOST:6379"):
            connect(StandIn(), "nowhere")
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_a_worker_killed_mid_clip_has_the_clip_retried_and_the_batch_completes(
    ray_run: tuple[Path, Path, Any],
) -> None:
    _, out, result = ray_run
    assert result.ok and len(result.done) == 3
    # Every output, the manifest, and nothing partial (chunk folders, hidden files) left behind.
    assert _files(out) == [MANIFEST_NAME, "long.mp4", "p.png", "sub/a.mp4"]
    assert probe(out / "sub" / "a.mp4").frames == 6


def test_ray_makes_what_a_local_run_makes(ray_run: tuple[Path, Path, Any], tmp_path: Path) -> None:
    folder, out, _ = ray_run
    here = process_batch(folder, tmp_path, recursive=True, chunk_seconds=0.5, warmup=3, processor=DiscMatter)
    assert here.ok and _files(tmp_path) == _files(out)
    for name in ("sub/a.mp4", "p.png", "long.mp4"):
        assert np.array_equal(np.stack(read_frames(out / name)), np.stack(read_frames(tmp_path / name)))
    assert probe(out / "sub" / "a.mp4").audio_packets == probe(folder / "sub" / "a.mp4").audio_packets


def test_one_clip_in_chunks_across_workers_equals_the_uncut_run(
    ray_run: tuple[Path, Path, Any], tmp_path: Path
) -> None:
    folder, out, _ = ray_run
    DiscMatter().process(folder / "long.mp4", tmp_path / "whole.mp4")
    whole, joined = probe(tmp_path / "whole.mp4"), probe(out / "long.mp4")
    assert joined.frames == whole.frames == 40
    assert joined.times == whole.times and joined.audio_packets == whole.audio_packets


def test_a_rerun_on_ray_skips_what_is_done(ray_run: tuple[Path, Path, Any]) -> None:
    folder, out, _ = ray_run
    again = process_batch(
        folder, out, recursive=True, ray="auto", chunk_seconds=0.5, warmup=3, processor=DiscMatter
    )
    assert again.ok and len(again.skipped) == 3 and not again.done
