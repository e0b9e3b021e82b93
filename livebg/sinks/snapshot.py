"""Snapshots of the live picture: numbered PNG files that appear complete or not at all and never
replace an existing file."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from livebg.errors import OutputError, UsageError
from livebg.sinks.safe_write import publish_numbered


def check_snapshot_folder(folder: Path) -> None:
    """Refuse a snapshot folder that does not exist, before anything is loaded (:class:`OutputError`)."""
    if not Path(folder).is_dir():
        raise OutputError(
            f"snapshot folder {folder} does not exist or is not a folder; create it first or pass "
            "another --snapshot-dir"
        )


def save_snapshot(rgb: np.ndarray, folder: Path) -> Path:
    """Write ``uint8 (H, W, 3)`` RGB as ``livebg-NNNN.png`` in ``folder`` under the first free number
    (see :func:`~livebg.sinks.safe_write.publish_numbered`: complete or absent, never over a file, the
    umask's permissions). Raises :class:`OutputError` when the folder cannot be written (gone,
    read-only, full)."""
    ok, png = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise UsageError("could not encode the snapshot as PNG")
    try:
        return publish_numbered(png.tobytes(), folder)
    except OutputError as exc:
        raise OutputError(f"could not save a snapshot: {exc}") from None
