"""Where uploads and results live: one private temporary folder, a sub-folder per job named by a
server-made id, and a cap on the bytes they hold together.

No name that a client sends is ever part of a path: folders are random hex ids, files inside have fixed
names chosen by the server (``input.jpg``, ``result.png``).
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import tempfile
import threading
from pathlib import Path

from livebg.serve.config import MB
from livebg.serve.errors import StorageFull

log = logging.getLogger(__name__)


class Storage:
    """A folder created with mode 0700 under the system's temporary folder (``$TMPDIR``), removed with
    everything in it by :meth:`close`.

    Bytes are counted per job: uploads as they stream in (:meth:`charge`), results when :meth:`measure`
    looks at the job's folder. A charge beyond ``limit_bytes`` raises :class:`StorageFull`; removing a
    job's folder gives its bytes back. Thread-safe.
    """

    def __init__(self, limit_bytes: int, parent: Path | None = None) -> None:
        self.limit_bytes = limit_bytes
        self.root = Path(tempfile.mkdtemp(prefix="livebg-serve-", dir=parent))
        self._lock = threading.Lock()
        self._bytes: dict[str, int] = {}
        self._closed = False

    @property
    def used_bytes(self) -> int:
        with self._lock:
            return sum(self._bytes.values())

    def create(self) -> tuple[str, Path]:
        """A new job id (32 random hex digits) and its empty folder."""
        job_id = secrets.token_hex(16)
        folder = self.root / job_id
        folder.mkdir(mode=0o700)
        with self._lock:
            self._bytes[job_id] = 0
        return job_id, folder

    def charge(self, job_id: str, nbytes: int) -> None:
        """Count ``nbytes`` more for ``job_id``; :class:`StorageFull` (nothing counted) if over the cap."""
        with self._lock:
            if sum(self._bytes.values()) + nbytes > self.limit_bytes:
                raise StorageFull(self._full_message())
            self._bytes[job_id] = self._bytes.get(job_id, 0) + nbytes

    def measure(self, job_id: str) -> None:
        """Count what ``job_id``'s folder holds now (a result being written); :class:`StorageFull` if
        that takes the total over the cap (the folder's bytes stay counted until it is removed)."""
        size = _folder_bytes(self.root / job_id)
        with self._lock:
            self._bytes[job_id] = size
            if sum(self._bytes.values()) > self.limit_bytes:
                raise StorageFull(self._full_message())

    def remove(self, job_id: str) -> None:
        """Delete ``job_id``'s folder and give its bytes back; unknown ids are ignored."""
        with self._lock:
            if self._bytes.pop(job_id, None) is None:
                return
        shutil.rmtree(self.root / job_id, ignore_errors=True)

    def close(self) -> None:
        """Delete the whole folder; idempotent."""
        if self._closed:
            return
        self._closed = True
        with self._lock:
            self._bytes.clear()
        shutil.rmtree(self.root, ignore_errors=True)
        log.debug("removed %s", self.root)

    def _full_message(self) -> str:
        return (
            f"the server's space for uploads and results ({self.limit_bytes / MB:.0f} MB) is full; "
            "try again when earlier results have been deleted, or start the server with a larger --disk-limit"
        )


def _folder_bytes(folder: Path) -> int:
    total = 0
    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:
        return 0
    for entry in entries:
        try:
            if entry.is_file(follow_symlinks=False):
                total += entry.stat(follow_symlinks=False).st_size
        except FileNotFoundError:
            continue  # a partial file renamed into place meanwhile
    return total
