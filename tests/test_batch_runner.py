"""A batch on this machine: one model for every input, resume, failures in the middle, Ctrl-C."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import cv2
import numpy as np
import pytest

from livebg.batch.job import process_batch
from livebg.batch.manifest import MANIFEST_NAME
from livebg.errors import Interrupted
from tests.fakes import DiscMatter
from tests.media import make_clip, probe, read_frames


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """``a.mp4`` (6 frames, audio), ``b.mp4`` (5 frames), ``stills/p.jpg``: a mixed folder."""
    root = tmp_path / "in"
    (root / "stills").mkdir(parents=True)
    make_clip(root / "a.mp4", frames=6, audio=True)
    make_clip(root / "b.mp4", frames=5)
    cv2.imwrite(str(root / "stills" / "p.jpg"), np.full((48, 40, 3), 120, np.uint8))
    return root


class Counting:
    """A processor factory that counts the models it made."""

    def __init__(self, **trouble: object) -> None:
        self.made = 0
        self.trouble = trouble

    def __call__(self) -> DiscMatter:
        self.made += 1
        return DiscMatter(**self.trouble)


def _files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def test_one_call_for_a_mixed_folder_makes_what_one_call_per_file_makes(folder: Path, tmp_path: Path) -> None:
    models = Counting()
    result = process_batch(folder, tmp_path / "out", recursive=True, processor=models)
    assert result.ok and len(result.done) == 3 and models.made == 1  # the model loaded once
    assert _files(tmp_path / "out") == [MANIFEST_NAME, "a.mp4", "b.mp4", "stills/p.jpg"]
    single = DiscMatter()
    for name in ("a.mp4", "b.mp4", "stills/p.jpg"):
        alone = tmp_path / "alone" / name
        alone.parent.mkdir(parents=True, exist_ok=True)
        single.process(folder / name, alone)
        made = tmp_path / "out" / name
        if name.endswith(".jpg"):
            assert np.array_equal(cv2.imread(str(made)), cv2.imread(str(alone)))
            continue
        assert np.array_equal(np.stack(read_frames(made)), np.stack(read_frames(alone)))
        assert probe(made).times == probe(alone).times
        assert probe(made).audio_packets == probe(folder / name).audio_packets  # audio kept


def test_a_rerun_does_nothing_and_a_deleted_output_alone_is_made_again(folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    process_batch(folder, out, recursive=True, processor=DiscMatter)
    stamps = {name: (out / name).stat().st_mtime_ns for name in ("a.mp4", "stills/p.jpg")}
    models = Counting()
    again = process_batch(folder, out, recursive=True, processor=models)
    assert (len(again.done), len(again.skipped), models.made) == (0, 3, 0)  # not even the model loaded
    (out / "b.mp4").unlink()
    third = process_batch(folder, out, recursive=True, processor=models)
    assert [r.output for r in third.done] == [out / "b.mp4"] and len(third.skipped) == 2
    assert {name: (out / name).stat().st_mtime_ns for name in stamps} == stamps
    # Other options make every output again; --overwrite too.
    assert len(process_batch(folder, out, recursive=True, processor=DiscMatter, background="blue").done) == 3
    assert len(process_batch(folder, out, recursive=True, processor=DiscMatter, overwrite=True).skipped) == 0


def test_an_output_no_batch_made_is_left_alone_unless_overwrite(folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "b.mp4").write_bytes(b"someone's file")
    result = process_batch(folder, out, processor=DiscMatter)
    assert [f.source for f in result.failed] == [str(folder / "b.mp4")]
    assert "was not made by a batch into this folder; pass --overwrite" in result.failed[0].reason
    assert (out / "b.mp4").read_bytes() == b"someone's file" and (out / "a.mp4").is_file()
    assert process_batch(folder, out, processor=DiscMatter, overwrite=True).ok
    assert probe(out / "b.mp4").frames == 5


def test_a_failure_in_the_middle_is_reported_and_the_rest_is_made(folder: Path, tmp_path: Path) -> None:
    (folder / "a2_broken.mp4").write_text("not a video")
    result = process_batch(folder, tmp_path / "out", processor=DiscMatter)
    assert not result.ok and len(result.done) == 2
    assert [f.source for f in result.failed] == [str(folder / "a2_broken.mp4")]
    assert result.failed[0].reason.startswith(f"input {folder / 'a2_broken.mp4'} is not a video")
    assert result.summary().splitlines() == [
        f"2 made, 0 already done, 1 failed of 3 inputs in {result.seconds:.1f} s",
        f"  failed: {folder / 'a2_broken.mp4'}: {result.failed[0].reason}",
    ]
    assert _files(tmp_path / "out") == [MANIFEST_NAME, "a.mp4", "b.mp4"]  # nothing for the broken one


def test_folders_made_for_failed_inputs_are_removed_and_others_are_kept(tmp_path: Path) -> None:
    inputs = tmp_path / "in"
    (inputs / "deep" / "er").mkdir(parents=True)
    (inputs / "deep" / "er" / "broken.mp4").write_text("not a video")
    mine = tmp_path / "mine"
    (mine / "deep").mkdir(parents=True)  # the user's, though empty
    for out in (tmp_path / "new" / "out", mine):
        result = process_batch(inputs, out, recursive=True, processor=DiscMatter)
        assert not result.ok and len(result.failed) == 1
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")) == [
        "in", "in/deep", "in/deep/er", "in/deep/er/broken.mp4", "mine", "mine/deep"
    ]


def test_ctrl_c_cleans_the_file_in_progress_and_keeps_the_finished_ones(folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    # a.mp4 takes model calls 1-6; the 8th is inside b.mp4.
    with pytest.raises(Interrupted, match=r"interrupted during .*b.mp4: .* the 1 outputs finished"):
        process_batch(folder, out, recursive=True, processor=partial(DiscMatter, interrupt_at=8))
    assert _files(out) == [MANIFEST_NAME, "a.mp4"]  # no partial file left behind
    assert probe(out / "a.mp4").frames == 6
    rest = process_batch(folder, out, recursive=True, processor=DiscMatter)
    assert len(rest.skipped) == 1 and len(rest.done) == 2
