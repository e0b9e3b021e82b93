"""The manifest that lets a rerun skip outputs already made from the same input and options."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from livebg.batch.inputs import Task
from livebg.batch.manifest import MANIFEST_NAME, Manifest, State, digest


@pytest.fixture
def task(tmp_path: Path) -> Task:
    source = tmp_path / "in.mp4"
    source.write_bytes(b"input")
    out = tmp_path / "out"
    out.mkdir()
    (out / "in.mp4").write_bytes(b"output")
    (tmp_path / "alpha.mp4").write_bytes(b"matte")
    return Task(str(source), out / "in.mp4", "in.mp4", (("alpha", tmp_path / "alpha.mp4"),))


def test_an_output_is_done_only_while_input_options_and_files_are_unchanged(task: Task) -> None:
    folder = task.output.parent
    options = digest({"background": "green", "crf": None})
    assert Manifest(folder).state(task, options) is State.UNKNOWN
    Manifest(folder).record(task, options)
    assert (folder / MANIFEST_NAME).is_file()
    assert Manifest(folder).state(task, options) is State.DONE  # read back from the file
    assert Manifest(folder).state(task, digest({"background": "blue", "crf": None})) is State.STALE
    os.utime(task.source, ns=(1, 1))  # the input changed since
    assert Manifest(folder).state(task, options) is State.STALE


@pytest.mark.parametrize("change", ["delete", "truncate"])
def test_a_missing_or_incomplete_output_is_stale(change: str, task: Task) -> None:
    folder = task.output.parent
    Manifest(folder).record(task, "o")
    extra = task.extra[0][1]
    extra.unlink() if change == "delete" else extra.write_bytes(b"m")
    assert Manifest(folder).state(task, "o") is State.STALE


def test_a_background_file_counts_with_its_contents(tmp_path: Path) -> None:
    picture = tmp_path / "bg.jpg"
    picture.write_bytes(b"one")
    before = digest({"background": str(picture)})
    picture.write_bytes(b"other picture")
    assert digest({"background": str(picture)}) != before
    assert digest({"background": "green", "crf": 17}) == digest({"crf": 17, "background": "green"})


def test_a_damaged_manifest_counts_as_empty(task: Task, caplog: pytest.LogCaptureFixture) -> None:
    folder = task.output.parent
    (folder / MANIFEST_NAME).write_text("{not json")
    assert Manifest(folder).state(task, "o") is State.UNKNOWN
    assert "ignoring the damaged manifest" in caplog.text
    Manifest(folder).record(task, "o")
    assert Manifest(folder).state(task, "o") is State.DONE
