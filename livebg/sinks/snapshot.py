"""Snapshots of the live picture: numbered PNG files that appear complete or not at all and never
replace an existing file."""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

import cv2
import numpy as np

from livebg.errors import OutputError, UsageError


def check_snapshot_folder(folder: Path) -> None:
    """Refuse a snapshot folder that does not exist, before anything is loaded (:class:`OutputError`)."""
    if not Path(folder).is_dir():
        raise OutputError(
            f"snapshot folder {folder} does not exist or is not a folder; create it first or pass "
            "another --snapshot-dir"
        )


def save_snapshot(rgb: np.ndarray, folder: Path) -> Path:
    """Write ``uint8 (H, W, 3)`` RGB as ``livebg-NNNN.png`` in ``folder`` under the first free number.

    The PNG is written to a hidden temporary file and linked under its name, which fails where the name
    is taken: an existing file is never overwritten, and the name never shows a half-written picture.
    The file's mode follows the umask, like any file the user creates. Raises :class:`OutputError`
    when the folder cannot be written (gone, read-only, full).
    """
    ok, png = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise UsageError("could not encode the snapshot as PNG")
    folder = Path(folder)
    data = png.tobytes()
    tmp = folder / f".livebg-{os.getpid()}-{secrets.token_hex(4)}.png.part"
    try:
        # os.open with 0o666 lets the umask decide the mode (tempfile's files are always 0600).
        with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), "wb") as f:
            f.write(data)
        number = 1
        while True:
            path = folder / f"livebg-{number:04d}.png"
            try:
                _link_new(tmp, path, data)
            except FileExistsError:
                number += 1
            else:
                return path
    except OSError as exc:
        raise OutputError(
            f"could not save a snapshot in {folder} ({exc.strerror or exc}); check that the folder "
            "exists, is writable and has free space"
        ) from None
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()


def _link_new(finished: Path, path: Path, data: bytes) -> None:
    """Give the finished file ``finished`` the new name ``path`` (FileExistsError where it is taken).
    On a file system without hard links (FAT) the name is taken first and then filled with ``data``."""
    try:
        os.link(finished, path)
    except FileExistsError:
        raise
    except OSError:
        with open(path, "xb") as f:
            f.write(data)
