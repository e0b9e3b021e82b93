"""Snapshots: numbered PNG files that never replace an existing one, with the mode the umask gives, and
one sentence when the folder cannot take them."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import av
import pytest

from livebg.errors import OutputError
from livebg.sinks.snapshot import check_snapshot_folder, save_snapshot

from .media import solid


@pytest.fixture()
def umask_022() -> Iterator[None]:
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def test_snapshots_are_numbered_and_never_overwrite(tmp_path: Path) -> None:
    (tmp_path / "livebg-0001.png").write_bytes(b"mine")
    first = save_snapshot(solid((255, 0, 0)), tmp_path)
    second = save_snapshot(solid((0, 0, 255)), tmp_path)
    assert (first.name, second.name) == ("livebg-0002.png", "livebg-0003.png")
    assert (tmp_path / "livebg-0001.png").read_bytes() == b"mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"livebg-000{n}.png" for n in (1, 2, 3)]
    with av.open(str(first)) as c:
        rgb = next(c.decode(video=0)).to_ndarray(format="rgb24")
    assert tuple(rgb[0, 0]) == (255, 0, 0)


def test_snapshots_honour_the_umask(tmp_path: Path, umask_022: None) -> None:
    path = save_snapshot(solid((255, 0, 0)), tmp_path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644  # not tempfile's 0600


def test_a_missing_folder_is_one_sentence_and_leaves_nothing(tmp_path: Path) -> None:
    missing = tmp_path / "gone"
    with pytest.raises(OutputError, match=r"^snapshot folder .*gone does not exist .*--snapshot-dir$"):
        check_snapshot_folder(missing)
    with pytest.raises(OutputError, match=r"^could not save a snapshot: folder .*gone does not exist"):
        save_snapshot(solid((255, 0, 0)), missing)
    assert list(tmp_path.iterdir()) == []
    check_snapshot_folder(tmp_path)  # an existing folder passes
