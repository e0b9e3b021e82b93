"""The sink contract (livebg/sinks/base.py) as every file sink keeps it: a ``with`` block that ends
normally finishes and closes, one that ends by an exception only closes and leaves nothing; ``finish``
and ``close`` are idempotent; a failing ``finish`` leaves nothing either."""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from livebg.errors import OutputError
from livebg.sinks.base import Sink, SinkBase
from livebg.sinks.image_file import ImageFileSink
from livebg.sinks.png_sequence import PngSequenceSink
from livebg.sinks.video_file import VideoFileSink

from .media import probe

SinkFactory = Callable[[Path, bool], SinkBase]
PICTURE = np.full((48, 64, 3), (200, 40, 90), np.uint8)


def _video(path: Path, overwrite: bool) -> SinkBase:
    return VideoFileSink(
        path.with_suffix(".mp4"), width=64, height=48, rate=Fraction(25), overwrite=overwrite
    )


def _frames(path: Path, overwrite: bool) -> SinkBase:
    return PngSequenceSink(path, overwrite=overwrite)


def _image(path: Path, overwrite: bool) -> SinkBase:
    return ImageFileSink(path.with_suffix(".png"), overwrite=overwrite)


FILE_SINKS = {"video": _video, "frames": _frames, "image": _image}


def _written(sink: SinkBase) -> Path:
    return sink.path  # type: ignore[attr-defined, no-any-return]


def _listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def _frames_in(path: Path) -> int:
    if path.is_dir():
        return len(list(path.glob("frame_*.png")))
    return probe(path).frames if path.suffix == ".mp4" else 1


@pytest.mark.parametrize("kind", FILE_SINKS)
def test_a_normal_end_finishes_and_closes(kind: str, tmp_path: Path) -> None:
    frames = 1 if kind == "image" else 3
    with FILE_SINKS[kind](tmp_path / "out", False) as sink:
        assert isinstance(sink, Sink)
        for i in range(frames):
            sink.write(PICTURE, time=i / 25, pts=i)
        assert not _written(sink).exists()  # nothing under the final name before the end
    assert sink.finished
    assert _listing(tmp_path) == [_written(sink).name]
    assert _frames_in(_written(sink)) == frames
    sink.finish()  # idempotent, and safe after close
    sink.close()


@pytest.mark.parametrize("kind", FILE_SINKS)
def test_an_exception_leaves_nothing_and_keeps_an_old_output(kind: str, tmp_path: Path) -> None:
    first = FILE_SINKS[kind](tmp_path / "out", False)
    with first:
        first.write(PICTURE)
    before = {p: p.read_bytes() for p in sorted(tmp_path.rglob("*")) if p.is_file()}
    with pytest.raises(RuntimeError, match="boom"), FILE_SINKS[kind](tmp_path / "out", True) as sink:
        sink.write(np.zeros_like(PICTURE))
        raise RuntimeError("boom")
    assert not sink.finished
    assert {p: p.read_bytes() for p in sorted(tmp_path.rglob("*")) if p.is_file()} == before


@pytest.mark.parametrize("kind", FILE_SINKS)
def test_close_without_finish_discards_and_finish_after_close_is_refused(kind: str, tmp_path: Path) -> None:
    sink = FILE_SINKS[kind](tmp_path / "out", False)
    sink.write(PICTURE)
    sink.close()
    sink.close()
    assert _listing(tmp_path) == []
    with pytest.raises(RuntimeError, match=r"finish\(\) after close\(\)"):
        sink.finish()


def test_a_failing_finish_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="no picture was given"), ImageFileSink(tmp_path / "still.png"):
        pass
    assert _listing(tmp_path) == []


class _Recording(SinkBase):
    """A sink that records which of its parts ran."""

    def __init__(self, fail: bool = False) -> None:
        self.calls: list[str] = []
        self.fail = fail

    def write(self, image: np.ndarray, *, time: float | None = None, pts: int | None = None) -> None:
        self.calls.append("write")

    def _finish(self) -> None:
        self.calls.append("finish")
        if self.fail:
            raise OSError("disk gone")

    def _close(self) -> None:
        self.calls.append(f"close (finished: {self.finished})")


def test_each_part_runs_once_in_the_contracts_order() -> None:
    with _Recording() as sink:
        sink.write(PICTURE)
    sink.finish()
    sink.close()
    assert sink.calls == ["write", "finish", "close (finished: True)"]
    failing = _Recording(fail=True)
    with pytest.raises(OSError, match="disk gone"), failing:
        pass
    assert failing.calls == ["finish", "close (finished: False)"]
    interrupted = _Recording()
    with pytest.raises(KeyboardInterrupt), interrupted:
        raise KeyboardInterrupt
    assert interrupted.calls == ["close (finished: False)"]
