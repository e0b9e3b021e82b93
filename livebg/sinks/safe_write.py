"""The one set of rules by which livebg writes a file (video, PNG sequence, image, recording, snapshot).

- **Partials.** An output is written under a partial name and appears under its own name only when
  complete. The partial is hidden (a leading dot), sits in the output's folder (so the final move is a
  rename), is created exclusively and carries its writer's host, PID and a random token:
  ``.NAME.livebg-partial-HOST-PID-TOKEN.SUFFIX`` (the real suffix last, so muxers and image writers pick
  the right format). Two runs never share one; names over 255 bytes are shortened in the NAME part.
- **No clobbering.** Without ``overwrite`` the finished partial is hard-linked under the final name,
  which fails where the name was taken meanwhile (by another run, say): a file that appeared while
  livebg worked is never replaced. With ``overwrite`` it is renamed over the old output.
- **Protected paths.** No path livebg reads (inputs, backgrounds, weights) is ever written or removed,
  whether named directly, through a symbolic link or as a hard link of it (same resolved path or same
  file). The only things livebg ever removes are the partials this run created, stale partials (below)
  and the frames of a PNG folder livebg wrote itself, when replacing it with ``overwrite``.
- **Folders.** A folder livebg creates for its outputs (:func:`make_folders`) is removed again when it
  is still empty after a failure (:func:`remove_empty`); no other folder is ever removed, save:
  a PNG-sequence folder is always created by livebg, with a marker file
  (:data:`FRAMES_MARKER`) inside. An existing folder is replaced (with ``overwrite``) only when it holds
  the marker and livebg's frames and nothing else; any other existing folder (``.`` included) is refused,
  with or without ``overwrite``.
- **Stale partials.** When a run writes into a folder, the partials there whose writer is gone (its
  process no longer exists on this host, or, from another host, untouched for :data:`STALE_AFTER_S`)
  are removed; nothing else is.
- **Errors** are one sentence (:class:`OutputError`): missing folder, read-only or full disk, name too
  long, output exists, output is something livebg reads.

Nothing here imports torch, so the command line checks its output before loading a model. The module
is longer than most on purpose: it is the only place that creates, moves or removes a user's files, so
the whole rule set can be read, and checked, in one file.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import itertools
import logging
import os
import re
import secrets
import shutil
import socket
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from livebg.errors import OutputError

log = logging.getLogger(__name__)

PARTIAL_TAG = "livebg-partial"
FRAMES_MARKER = ".livebg-frames"
"""The file inside every PNG-sequence folder livebg creates; only such folders are ever replaced."""
STALE_AFTER_S = 12 * 3600
DISK_FULL = (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC))
"""``errno`` values of a full disk (or a full quota)."""
"""A partial written on another host counts as abandoned after this long without a change."""

_NAME_MAX = 255  # bytes in one file name (Linux, macOS, Windows)
_HOST = hashlib.blake2s(socket.gethostname().encode(), digest_size=4).hexdigest()
_PARTIAL_NAME = re.compile(
    rf"\..*\.{PARTIAL_TAG}-(?P<host>[0-9a-f]{{8}})-(?P<pid>[0-9]+)-[0-9a-f]{{8}}(\.[^.]*)?", re.DOTALL
)
_FRAME_NAME = re.compile(r"frame_[0-9]{6,}\.png")
_MARKER_TEXT = (
    "written by livebg, which may replace this folder (--overwrite) while it holds only its frames\n"
)


def frame_name(index: int) -> str:
    """The file name of frame ``index`` (from 0) in a PNG-sequence folder."""
    return f"frame_{index:06d}.png"


def existing_paths(*candidates: str | Path | None) -> list[Path]:
    """The candidates that name an existing file or folder: of an input, a ``--background`` value and
    ``--weights``, the ones livebg will read (colour names, URLs and ``None`` drop out)."""
    paths = [Path(c).expanduser() for c in candidates if c is not None]
    return [p for p in paths if os.path.exists(p)]


class Protected:
    """Paths livebg reads and must never write or remove. A path is one of them when it resolves to the
    same path or is the same file (a hard or symbolic link to it)."""

    def __init__(self, paths: Iterable[Path | str] = ()) -> None:
        self._items = [(Path(p), Path(p).resolve(), _identity(Path(p))) for p in paths]

    def match(self, path: Path | str) -> Path | None:
        """The protected path that ``path`` is, or ``None``."""
        resolved, identity = Path(path).resolve(), _identity(Path(path))
        for original, other, other_identity in self._items:
            if resolved == other or (identity is not None and identity == other_identity):
                return original
        return None

    def inside(self, folder: Path) -> Path | None:
        """A protected path that is ``folder`` or lies in it (resolved, or as one of its entries)."""
        root = folder.resolve()
        for original, resolved, _ in self._items:
            if resolved == root or root in resolved.parents:
                return original
        for entry in _scan(folder):
            found = self.match(entry.path)
            if found is not None:
                return found
        return None


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _as_protected(protect: Sequence[Path | str] | Protected) -> Protected:
    return protect if isinstance(protect, Protected) else Protected(protect)


# ---------------------------------------------------------------------------------------------------
# Checks before any work


def check_output(
    output: Path | str,
    *,
    overwrite: bool,
    protect: Sequence[Path | str] | Protected = (),
    folder: bool = False,
) -> Path:
    """Refuse, in one sentence (:class:`OutputError`), an output livebg may not write: a name over 255
    bytes, a path livebg reads, a missing or read-only folder, an existing file without ``overwrite``,
    and for a PNG-sequence ``folder`` any existing folder livebg did not write (with or without
    ``overwrite``). Returns the output as an absolute path (``.`` and ``..`` resolved, no link followed).
    """
    shown = str(output)
    path = Path(os.path.abspath(output))
    protected = _as_protected(protect)
    if len(os.fsencode(path.name)) > _NAME_MAX:
        raise OutputError(
            f"output name {path.name[:40]}... is {len(os.fsencode(path.name))} bytes long, more than the "
            f"{_NAME_MAX} a file name may have; choose a shorter name"
        )
    found = protected.match(path)
    if found is not None:
        raise OutputError(
            f"output {shown} is the input file {found}, which livebg reads and never overwrites; "
            "choose another output path"
        )
    parent = path.parent
    if not os.path.isdir(parent):
        raise OutputError(f"folder {parent} does not exist; create it first or choose another output path")
    if not os.access(parent, os.W_OK | os.X_OK):
        reason = errno.EROFS if _read_only(parent) else errno.EACCES
        raise output_error(OSError(reason, os.strerror(reason)), path)
    if folder:
        _check_folder_output(path, shown, overwrite, protected)
    elif os.path.lexists(path):
        if os.path.isdir(path) and not os.path.islink(path):
            raise OutputError(
                f"output {shown} is a folder; give a file name (e.g. {Path(shown) / 'out.mp4'}), or a "
                "new folder ending in / for PNG frames"
            )
        if not overwrite:
            raise OutputError(
                f"output {shown} already exists; pass --overwrite to replace it or choose another path"
            )
    return path


def _check_folder_output(path: Path, shown: str, overwrite: bool, protected: Protected) -> None:
    if not os.path.lexists(path):
        return
    if os.path.islink(path) or not os.path.isdir(path):
        raise OutputError(
            f"output {shown} exists and is not a folder livebg wrote; give a new folder name for PNG frames"
        )
    if not is_frames_folder(path):
        raise OutputError(
            f"output folder {shown} already exists and was not written by livebg, so livebg will not "
            "write into it or replace it; give a new folder name for PNG frames (e.g. "
            f"{path / 'frames'}/)"
        )
    if not overwrite:
        raise OutputError(
            f"output folder {shown} already exists; pass --overwrite to replace it or choose another path"
        )
    found = protected.inside(path)
    if found is not None:
        raise OutputError(
            f"output folder {shown} holds {found}, which livebg reads; choose another output folder"
        )


def is_frames_folder(path: Path) -> bool:
    """Whether ``path`` is a PNG-sequence folder livebg wrote and nothing else was put in: a real folder
    (not a link) with livebg's marker, whose every other entry is a frame file."""
    if os.path.islink(path) or not os.path.isdir(path):
        return False
    marker = False
    with os.scandir(path) as entries:
        for entry in entries:
            if not entry.is_file(follow_symlinks=False):
                return False
            if entry.name == FRAMES_MARKER:
                marker = True
            elif not _FRAME_NAME.fullmatch(entry.name):
                return False
    return marker


def _read_only(folder: Path) -> bool:
    try:
        return bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except (OSError, AttributeError):  # AttributeError: no statvfs (Windows)
        return False


def output_error(exc: OSError, output: Path | str) -> OutputError:
    """One sentence for an operating-system error met while writing ``output``."""
    folder = Path(output).parent
    code = exc.errno
    if code in DISK_FULL:
        return OutputError(
            f"the disk holding {folder} is full ({_size(_free(folder))} free); free some space or choose "
            "another output folder"
        )
    if code == errno.EROFS:
        return OutputError(
            f"cannot write into {folder}: it is on a read-only file system; choose another output folder"
        )
    if code in (errno.EACCES, errno.EPERM):
        return OutputError(f"cannot write into {folder}: permission denied; choose a folder you can write to")
    if code == errno.ENOENT:
        return OutputError(f"folder {folder} does not exist; create it first or choose another output path")
    if code == errno.ENAMETOOLONG:
        return OutputError(f"output name {Path(output).name[:40]}... is too long; choose a shorter name")
    return OutputError(f"cannot write {output}: {exc.strerror or exc}; check the output folder")


def disk_full_error(
    output: Path | str, written: int, frames: int, expected_frames: int | None
) -> OutputError:
    """One sentence for a disk that filled up after ``written`` bytes for ``frames`` frames."""
    folder = Path(output).parent
    need = ""
    if expected_frames and frames:
        need = f", about {_size(written * expected_frames // frames)} for all {expected_frames} frames"
    return OutputError(
        f"the disk holding {folder} is full ({_size(_free(folder))} free): {_size(written)} were written for "
        f"{frames} frames{need}; the partial output was removed; free space or choose another output folder"
    )


def _free(folder: Path) -> int:
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return 0


def _size(n: float) -> str:
    units = ("bytes", "kB", "MB", "GB", "TB")
    step = 0
    while n >= 1000 and step < len(units) - 1:
        n /= 1000
        step += 1
    return f"{n:.0f} bytes" if step == 0 else f"{n:.1f} {units[step]}"


# ---------------------------------------------------------------------------------------------------
# Partials


def partial_name(name: str, *, keep_suffix: bool = True) -> str:
    """A new hidden partial name for the output file or folder ``name`` (``keep_suffix``: the real
    suffix stays last), unique to this process and call, at most 255 bytes."""
    stem, suffix = os.path.splitext(name) if keep_suffix else (name, "")
    tag = f".{PARTIAL_TAG}-{_HOST}-{os.getpid()}-{secrets.token_hex(4)}"
    room = _NAME_MAX - len(os.fsencode(f".{tag}{suffix}"))
    if room < 0:
        raise OutputError(f"output suffix {suffix[:40]}... is too long; choose a shorter name")
    while len(os.fsencode(stem)) > room:  # by characters, so a multi-byte character is never split
        stem = stem[:-1]
    return f".{stem}{tag}{suffix}"


class Partial:
    """The hidden file (or folder, ``folder=True``) being written for ``output``, created at once and
    exclusively (a folder with livebg's marker inside). ``publish()`` moves it into place; ``discard()``
    removes it (only it). Stale partials of finished runs in the same folder are removed first."""

    def __init__(
        self, output: Path | str, *, folder: bool = False, protect: Sequence[Path | str] | Protected = ()
    ) -> None:
        self.output = Path(os.path.abspath(output))
        self.folder = folder
        self._protect = _as_protected(protect)
        self._done = False
        remove_stale_partials(self.output.parent, protect=self._protect)
        path = self.output.with_name(partial_name(self.output.name, keep_suffix=not folder))
        try:
            if folder:
                path.mkdir()
            else:
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except OSError as exc:
            raise output_error(exc, self.output) from None
        self.path = path
        if folder:
            try:
                with open(path / FRAMES_MARKER, "x") as marker:
                    marker.write(_MARKER_TEXT)
            except OSError as exc:
                self.discard()
                raise output_error(exc, self.output) from None

    def publish(self, *, overwrite: bool) -> None:
        """Give the finished partial its final name. Without ``overwrite`` a name taken meanwhile is
        refused (:class:`OutputError`) and kept as it is; with it, an old file, or an old PNG folder that
        livebg wrote, is replaced. A protected path is refused in any case."""
        found = self._protect.match(self.output)
        if found is not None:
            raise OutputError(f"output {self.output} is the input file {found}; choose another output path")
        try:
            if self.folder:
                self._publish_folder(overwrite)
            elif overwrite:
                if os.path.isdir(self.output) and not os.path.islink(self.output):
                    raise OutputError(f"output {self.output} is now a folder; choose another output path")
                os.replace(self.path, self.output)
            else:
                self.publish_first_free([self.output])
        except FileExistsError:
            raise _taken_meanwhile(self.output) from None
        except OutputError:
            raise
        except OSError as exc:
            raise output_error(exc, self.output) from None
        self._done = True

    def publish_first_free(self, names: Iterable[Path]) -> Path:
        """Give the finished partial file the first of ``names`` that is free, never replacing a file;
        returns that name (FileExistsError when every one is taken)."""
        for name in names:
            try:
                _link_new(self.path, name)
            except FileExistsError:
                continue
            self._done = True
            return name
        raise FileExistsError(errno.EEXIST, "every name is taken")

    def _publish_folder(self, overwrite: bool) -> None:
        if not os.path.lexists(self.output):
            try:
                os.rename(self.path, self.output)
            except OSError as exc:
                if exc.errno in (errno.EEXIST, errno.ENOTEMPTY, errno.ENOTDIR, errno.EISDIR):
                    raise _taken_meanwhile(self.output) from None
                raise
            return
        if not overwrite:
            raise _taken_meanwhile(self.output)
        _check_folder_output(self.output, str(self.output), overwrite, self._protect)
        old = self.output.with_name(partial_name(self.output.name, keep_suffix=False))
        os.rename(self.output, old)
        try:
            os.rename(self.path, self.output)
        except BaseException:
            os.rename(old, self.output)
            raise
        _remove_frames_folder(old)

    def discard(self) -> None:
        """Remove the partial (nothing else); idempotent and a no-op once published."""
        if self._done:
            return
        self._done = True
        try:
            if self.folder:
                _remove_frames_folder(self.path)
            else:
                with contextlib.suppress(FileNotFoundError):
                    self.path.unlink()
        except OSError as exc:  # must not hide the error that led here
            log.warning("could not remove the partial output %s: %s", self.path, exc)


def _taken_meanwhile(output: Path) -> OutputError:
    return OutputError(
        f"output {output} was created by another program while livebg worked; this run's result was "
        "dropped; pass --overwrite to replace it or choose another path"
    )


def _link_new(finished: Path, name: Path) -> None:
    """Give the finished file ``finished`` the new name ``name``; FileExistsError where it is taken. On
    a file system without hard links (FAT) the name is taken with an empty file first and the finished
    file then moved over it, which never replaces someone else's file either."""
    try:
        os.link(finished, name)
    except FileExistsError:
        raise
    except OSError:
        os.close(os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        os.replace(finished, name)
        return
    os.unlink(finished)


def _remove_frames_folder(folder: Path) -> None:
    """Remove livebg's marker and frame files from ``folder``, then the folder if that emptied it; any
    other file is left, and so is the folder then."""
    with os.scandir(folder) as entries:
        ours = [
            e.path
            for e in entries
            if e.is_file(follow_symlinks=False) and (e.name == FRAMES_MARKER or _FRAME_NAME.fullmatch(e.name))
        ]
    for path in ours:
        os.unlink(path)
    try:
        os.rmdir(folder)
    except OSError:
        log.warning("left folder %s: it holds files livebg did not write", folder)


# ---------------------------------------------------------------------------------------------------
# Stale partials and numbered files


def make_folders(folder: Path) -> list[Path]:
    """Create ``folder`` and its missing parents; returns the folders this call created, deepest first
    (for :func:`remove_empty`)."""
    missing = list(itertools.takewhile(lambda f: not f.exists(), [folder, *folder.parents]))
    folder.mkdir(parents=True, exist_ok=True)
    return missing


def remove_empty(folders: Iterable[Path]) -> None:
    """Remove those of ``folders`` (livebg's own, from :func:`make_folders`, deepest first) that are
    empty; one holding anything is kept."""
    for folder in folders:
        with contextlib.suppress(OSError):  # not empty, or gone already
            folder.rmdir()


def remove_stale_partials(folder: Path, *, protect: Sequence[Path | str] | Protected = ()) -> list[Path]:
    """Remove from ``folder`` the partials of livebg runs that are gone: only names livebg gives its
    partials, only when their writer's process no longer exists (this host) or they have not changed
    for :data:`STALE_AFTER_S` (another host), never a protected path, a link, or a folder holding
    anything but livebg's frames. Returns what was removed."""
    protected = _as_protected(protect)
    removed = []
    for entry in _scan(folder):
        found = _PARTIAL_NAME.fullmatch(entry.name)
        if found is None or not _writer_gone(found["host"], int(found["pid"]), entry):
            continue
        path = Path(entry.path)
        if protected.match(path) is not None:
            continue
        try:
            if entry.is_file(follow_symlinks=False):
                path.unlink()
            elif entry.is_dir(follow_symlinks=False) and is_frames_folder(path):
                _remove_frames_folder(path)
            else:
                continue
        except OSError as exc:
            log.debug("could not remove stale partial %s: %s", path, exc)
            continue
        removed.append(path)
    if removed:
        log.info("removed %d partial output(s) left in %s by livebg runs that ended", len(removed), folder)
    return removed


def _scan(folder: Path) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(folder) as entries:
            return list(entries)
    except OSError:
        return []


def _writer_gone(host: str, pid: int, entry: os.DirEntry[str]) -> bool:
    if host == _HOST and os.name == "posix":
        return not _process_exists(pid)
    try:
        age = time.time() - entry.stat(follow_symlinks=False).st_mtime
    except OSError:
        return False
    return age > STALE_AFTER_S


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists (POSIX)
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: it exists, run by someone else
        return True
    return True


def publish_numbered(data: bytes, folder: Path | str, template: str = "livebg-{:04d}.png") -> Path:
    """Save ``data`` in ``folder`` as a new file named ``template.format(n)`` for the first free ``n``
    from 1. The file appears complete (written to a partial first), never replaces an existing one, and
    gets the usual permissions (the umask's, not a temporary file's 0600). Raises :class:`OutputError`
    when the folder is missing, read-only or full."""
    folder = Path(folder)
    if not os.path.isdir(folder):
        raise OutputError(f"folder {folder} does not exist; create it first or choose another folder")
    partial = Partial(folder / template.format(1))
    try:
        with open(partial.path, "wb") as f:
            f.write(data)
        numbered: Iterator[Path] = (folder / template.format(n) for n in itertools.count(1))
        return partial.publish_first_free(numbered)
    except OSError as exc:
        raise output_error(exc, folder / template.format(1)) from None
    finally:
        partial.discard()
