"""livebg/serve/storage.py: the private folder, server-made ids, the disk cap."""

from __future__ import annotations

import re
import stat
from pathlib import Path

import pytest

from livebg.serve.errors import StorageFull
from livebg.serve.storage import Storage


def test_folders_are_private_and_named_by_the_server(tmp_path: Path) -> None:
    storage = Storage(1000, parent=tmp_path)
    job_id, folder = storage.create()
    other, _ = storage.create()
    assert re.fullmatch(r"[0-9a-f]{32}", job_id) and other != job_id
    assert folder == storage.root / job_id and folder.is_dir()
    assert storage.root.parent == tmp_path and storage.root.name.startswith("livebg-serve-")
    assert stat.S_IMODE(storage.root.stat().st_mode) == 0o700
    assert stat.S_IMODE(folder.stat().st_mode) & 0o077 == 0


def test_charges_stop_at_the_cap_and_removal_gives_bytes_back(tmp_path: Path) -> None:
    storage = Storage(1000, parent=tmp_path)
    a, _ = storage.create()
    b, _ = storage.create()
    storage.charge(a, 600)
    with pytest.raises(StorageFull, match=r"space for uploads and results \(0 MB\) is full.*--disk-limit"):
        storage.charge(b, 401)
    assert storage.used_bytes == 600  # the refused charge counted nothing
    storage.charge(b, 400)
    storage.remove(a)
    assert storage.used_bytes == 400
    assert not (storage.root / a).exists()


def test_measure_counts_what_a_folder_holds(tmp_path: Path) -> None:
    storage = Storage(1000, parent=tmp_path)
    job_id, folder = storage.create()
    (folder / "result.mp4").write_bytes(b"x" * 700)
    storage.measure(job_id)
    assert storage.used_bytes == 700
    (folder / ".partial").write_bytes(b"x" * 400)
    with pytest.raises(StorageFull):
        storage.measure(job_id)
    assert storage.used_bytes == 1100  # counted until the folder is removed
    storage.remove(job_id)
    assert storage.used_bytes == 0


def test_close_removes_everything_once(tmp_path: Path) -> None:
    storage = Storage(1000, parent=tmp_path)
    _, folder = storage.create()
    (folder / "input.jpg").write_bytes(b"data")
    storage.close()
    storage.close()
    assert list(tmp_path.iterdir()) == []
