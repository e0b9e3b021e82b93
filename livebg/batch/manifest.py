"""The batch manifest: a small JSON file beside the outputs that says which output was made from which
input (its size and modification time) with which options, so that a rerun skips what is done.

An output counts as done when the manifest has its entry, the input still has the recorded size and
modification time (a URL: the same address), the options are the same, and every output file of the
entry exists with the size it had when it was finished. The manifest is rewritten (atomically) after
each finished output, so an interrupted batch resumes where it stopped.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
from collections.abc import Mapping
from enum import Enum
from pathlib import Path
from typing import Any

from livebg.batch.inputs import Task
from livebg.errors import OutputError
from livebg.sources.media import is_url

log = logging.getLogger(__name__)

MANIFEST_NAME = ".livebg-manifest.json"
_VERSION = 1


class State(Enum):
    """What the manifest knows about a task's outputs."""

    DONE = "done"  # complete, from the same input and options
    STALE = "stale"  # made by livebg, but the input, the options or an output file changed since
    UNKNOWN = "unknown"  # no entry: not made by a batch here


def digest(options: Mapping[str, Any]) -> str:
    """A short fingerprint of the options that shape the outputs (a background given as a file also
    counts its size and modification time)."""
    shaped = dict(options)
    background = shaped.get("background")
    if isinstance(background, str | Path) and Path(background).is_file():
        shaped["background"] = [str(background), *_stat(Path(background))]
    text = json.dumps(shaped, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class Manifest:
    """The manifest of the output folder ``folder`` (read at creation; a damaged one counts as empty)."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.path = self.folder / MANIFEST_NAME
        self._entries: dict[str, dict[str, Any]] = {}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            if data.get("version") == _VERSION:
                self._entries = dict(data["outputs"])
        except FileNotFoundError:
            pass
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            log.warning(
                "ignoring the damaged manifest %s (%s); every output will be made again", self.path, exc
            )

    def state(self, task: Task, options: str) -> State:
        """Whether ``task``'s outputs are done for the options fingerprint ``options``."""
        entry = self._entries.get(task.key)
        if entry is None:
            return State.UNKNOWN
        same = entry.get("input") == _input_print(task.source) and entry.get("options") == options
        sizes = entry.get("outputs", {})
        files = {self._name(path): path for path in task.outputs}
        complete = set(sizes) == set(files) and all(
            path.exists() and _size(path) == sizes[name] for name, path in files.items()
        )
        return State.DONE if same and complete else State.STALE

    def record(self, task: Task, options: str) -> None:
        """Note ``task``'s outputs as finished from its input with ``options``, and save."""
        self._entries[task.key] = {
            "source": task.source,
            "input": _input_print(task.source),
            "options": options,
            "outputs": {self._name(path): _size(path) for path in task.outputs},
        }
        self._save()

    def _name(self, path: Path) -> str:
        return Path(os.path.relpath(os.path.abspath(path), os.path.abspath(self.folder))).as_posix()

    def _save(self) -> None:
        data = {"version": _VERSION, "outputs": dict(sorted(self._entries.items()))}
        tmp = self.path.with_name(f"{self.path.name}.tmp")
        try:
            tmp.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
            os.replace(tmp, self.path)
        except OSError as exc:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise OutputError(
                f"cannot write the manifest {self.path} ({exc}); check free disk space and permissions"
            ) from None


def _stat(path: Path) -> tuple[int, int]:
    info = path.stat()
    return info.st_size, info.st_mtime_ns


def _size(path: Path) -> int:
    # A PNG-sequence output is a folder: its size is the sum of its frames'.
    if path.is_dir():
        return sum(item.stat().st_size for item in path.iterdir())
    return path.stat().st_size


def _input_print(source: str) -> list[Any]:
    if is_url(source):
        return [source]
    try:
        return list(_stat(Path(source)))
    except FileNotFoundError:
        return [None]
