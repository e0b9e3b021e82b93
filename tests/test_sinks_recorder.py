"""The live recorder: the file sink contract (finish moves the complete file into place, close discards
an unfinished one, both idempotent; a ``with`` block finishes on success only), pictures dropped rather
than queued without bound, a failing disk reported at finish, and folders refused in one sentence."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import numpy as np
import pytest

from livebg.errors import OutputError
from livebg.sinks import video_file
from livebg.sinks.recorder import QUEUE_DEPTH, Recorder, check_recording_path

from .media import probe, read_frames, solid


def record(path: Path, pictures: list[np.ndarray], **kwargs: object) -> Recorder:
    recorder = Recorder(path, width=160, height=120, fps=30, **kwargs)  # type: ignore[arg-type]
    for i, picture in enumerate(pictures):
        recorder.write(picture, time=i / 10)
    return recorder


def test_finish_moves_the_complete_file_into_place_with_its_times(tmp_path: Path) -> None:
    out = tmp_path / "live.mp4"
    recorder = record(out, [solid((255, 0, 0))] * 5 + [solid((0, 0, 255), (240, 320))] * 3)
    assert not out.exists()  # still a hidden partial
    recorder.finish()
    recorder.finish()
    recorder.close()  # after finish: releases, keeps the file
    assert recorder.written == 8 and recorder.dropped == 0
    found = probe(out)
    assert found.frames == 8 and (found.width, found.height) == (160, 120)  # the larger ones scaled
    assert [float(t) for t in found.times] == pytest.approx([i / 10 for i in range(8)], abs=1e-4)
    frames = read_frames(out)
    assert frames[0][..., 0].min() > 220 and frames[-1][..., 2].min() > 220
    assert sorted(p.name for p in tmp_path.iterdir()) == ["live.mp4"]


def test_close_without_finish_leaves_the_output_path_as_it_was(tmp_path: Path) -> None:
    out = tmp_path / "live.mp4"
    out.write_bytes(b"older recording")
    recorder = record(out, [solid((255, 0, 0))] * 5, overwrite=True)
    recorder.close()
    recorder.close()
    recorder.finish()  # too late: nothing to finish
    assert out.read_bytes() == b"older recording"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["live.mp4"]


def test_a_with_block_finishes_on_success_and_discards_on_an_error(tmp_path: Path) -> None:
    with record(tmp_path / "kept.mp4", [solid((255, 0, 0))] * 3):
        pass
    with pytest.raises(RuntimeError), record(tmp_path / "dropped.mp4", [solid((255, 0, 0))] * 3):
        raise RuntimeError("the live loop failed")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept.mp4"]
    assert probe(tmp_path / "kept.mp4").frames == 3


def test_a_recording_without_frames_is_not_kept(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING), Recorder(tmp_path / "live.mp4", width=160, height=120, fps=30):
        pass
    assert list(tmp_path.iterdir()) == []
    assert "nothing was recorded" in caplog.text


def test_pictures_beyond_the_queue_are_dropped_not_waited_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = threading.Event()
    write = video_file.VideoFileSink.write

    def slow_write(self: video_file.VideoFileSink, image: np.ndarray, **kwargs: object) -> None:
        release.wait(timeout=30)  # an encoder that cannot keep up
        write(self, image, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(video_file.VideoFileSink, "write", slow_write)
    recorder = record(tmp_path / "live.mp4", [solid((255, 0, 0))] * 30)  # returns without waiting
    release.set()
    recorder.finish()
    # The encoder holds one picture, the queue QUEUE_DEPTH more; the rest were dropped and counted.
    assert QUEUE_DEPTH <= recorder.written <= QUEUE_DEPTH + 1
    assert recorder.written + recorder.dropped == 30
    assert probe(tmp_path / "live.mp4").frames == recorder.written


def test_a_full_disk_stops_the_recording_and_finish_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full(self: video_file.VideoFileSink, image: np.ndarray, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(video_file.VideoFileSink, "write", full)
    recorder = record(tmp_path / "live.mp4", [solid((255, 0, 0))] * 3)
    with pytest.raises(
        OutputError, match=r"^recording to .*live.mp4 failed \(No space left on device\); check"
    ):
        recorder.finish()
    recorder.close()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["folder", "folder/", "noext"])
def test_a_folder_is_refused_without_advising_one(tmp_path: Path, name: str) -> None:
    (tmp_path / "folder").mkdir()
    (tmp_path / "folder" / "mine.txt").write_text("keep")
    path = Path(f"{tmp_path}/{name}")
    for overwrite in (False, True):
        with pytest.raises(OutputError) as refused:
            check_recording_path(path, overwrite=overwrite)
        message = str(refused.value)
        assert message.startswith(f"--record {path} is a folder or has no file extension")
        assert "live.mp4" in message and "ending in /" not in message and message.count(";") == 1
    assert (tmp_path / "folder" / "mine.txt").read_text() == "keep"


def test_the_camera_file_and_existing_files_are_refused(tmp_path: Path) -> None:
    camera = tmp_path / "camera.mp4"
    camera.write_bytes(b"my clip")
    with pytest.raises(OutputError, match="is the input file"):
        check_recording_path(camera, overwrite=True, protect=[camera])
    with pytest.raises(OutputError, match="already exists; pass --overwrite"):
        check_recording_path(camera, overwrite=False)
    with pytest.raises(OutputError, match="does not exist; create it first"):
        check_recording_path(tmp_path / "missing" / "live.mp4", overwrite=False)
    assert camera.read_bytes() == b"my clip"
