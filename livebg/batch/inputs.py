"""What a batch works on: inputs (files, folders, quoted globs, ``@list.txt`` files, URLs) expanded into
:class:`Task` objects, each naming its input and the outputs that mirror its place under the output folder.

A plain file keeps only its name; a folder's files keep their path below the folder; a glob's matches
keep their path below the glob's fixed prefix (``clips/**/*.mp4`` below ``clips``); a list file's
relative entries are read from its folder and keep the path written. Hidden files (our own partial
outputs among them) and the output folders themselves are never inputs.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import urlparse

from livebg.config import IMAGE_FORMATS, VIDEO_FORMATS
from livebg.errors import InputError, InputNotFoundError, UsageError
from livebg.sources.image_file import IMAGE_SUFFIXES, is_image_path
from livebg.sources.media import is_url

CLIP_SUFFIXES = frozenset(
    {".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".mpg", ".mpeg", ".ts", ".mts", ".m2ts", ".wmv"}
    | {".flv", ".3gp", ".ogv"}
)
"""Suffixes of the clips a folder or glob contributes (other files there are left alone)."""
_GLOB_CHARS = frozenset("*?[")


@dataclass(frozen=True)
class Item:
    """One input: ``source`` (a path or URL as given to the decoder) and ``relative``, its path below
    the output folder (with the input's own suffix)."""

    source: str
    relative: PurePosixPath


@dataclass(frozen=True)
class Task:
    """One input and its outputs. ``key``: ``output`` below the output folder, in POSIX form (the
    manifest's key). ``extra``: further outputs by kind (``alpha``, ``foreground``)."""

    source: str
    output: Path
    key: str
    extra: tuple[tuple[str, Path], ...] = ()

    @property
    def is_still(self) -> bool:
        return is_image_path(self.source)

    @property
    def outputs(self) -> tuple[Path, ...]:
        """Every file this task writes, the main output first."""
        return (self.output, *(path for _, path in self.extra))


def is_batch(inputs: str | Path | Sequence[str | Path]) -> bool:
    """Whether ``inputs`` asks for a batch (output to a folder): several inputs, a folder, a glob or
    a ``@list`` file; a single file or URL is not one."""
    if isinstance(inputs, str | Path):
        inputs = [inputs]
    if len(inputs) != 1:
        return True
    text = str(inputs[0])
    if is_url(text):
        return False
    return text.startswith("@") or _is_glob(text) or Path(text).is_dir()


def expand(
    inputs: Sequence[str | Path], *, recursive: bool = False, exclude: Sequence[Path] = ()
) -> list[Item]:
    """The stills and clips that ``inputs`` name, in the order given (folders and globs sorted by
    path), each once. ``recursive``: descend into subfolders. ``exclude``: folders whose files are
    never inputs (the outputs). Raises :class:`InputNotFoundError` for a path, folder or list that
    does not exist and :class:`InputError` for one that holds nothing to process."""
    skip = [Path(os.path.abspath(path)) for path in exclude]
    items: dict[str, Item] = {}
    for entry in inputs:
        for item in _expand_one(str(entry), recursive, skip, Path()):
            items.setdefault(item.source if is_url(item.source) else os.path.abspath(item.source), item)
    return list(items.values())


def plan(
    items: Sequence[Item],
    output: Path,
    *,
    transparent: bool = False,
    output_type: str = "composite",
    video_format: str | None = None,
    image_format: str | None = None,
    suffix: str = "",
    extra: Sequence[tuple[str, Path]] = (),
) -> list[Task]:
    """The outputs of ``items`` under the folder ``output`` (and under each folder of ``extra``, by
    kind), mirroring their relative paths, with ``suffix`` added to the name.

    A still becomes ``image_format`` if given, else a PNG when it carries alpha (``transparent``), else
    keeps its own format (PNG, JPEG, WebP; others become PNG). A clip becomes ``video_format`` if given,
    else a MOV when ``transparent`` (ProRes 4444 with alpha; a WebM stays WebM), else keeps its MP4,
    MOV, MKV or WebM container (others become MP4). The extra outputs (a matte, a foreground) are PNG
    for stills and the clip's container. Raises :class:`UsageError` when two inputs would write the
    same output, and when ``output`` is not a folder yet but is named like a file (``-o out.mp4``)."""
    if not output.is_dir() and _is_media(output):
        raise UsageError(
            f"-o {output} is named like a file, but a batch of {len(items)} input"
            f"{'s' if len(items) != 1 else ''} is written into a folder; "
            "give a folder name, e.g. -o results/"
        )
    if video_format is not None and video_format.lstrip(".").lower() not in VIDEO_FORMATS:
        raise UsageError(f"--format {video_format}: use one of {', '.join(VIDEO_FORMATS)}")
    if image_format is not None and image_format.lstrip(".").lower() not in IMAGE_FORMATS:
        raise UsageError(f"--image-format {image_format}: use one of {', '.join(IMAGE_FORMATS)}")
    if "/" in suffix or os.sep in suffix:
        raise UsageError(f"--suffix {suffix!r} holds a path separator; give text to add to the name")
    alpha = transparent and output_type == "composite"
    tasks: list[Task] = []
    claimed: dict[str, str] = {}
    for item in items:
        still = is_image_path(item.relative.name)
        ext = _image_suffix(item, alpha, image_format) if still else _video_suffix(item, alpha, video_format)
        relative = item.relative.with_name(f"{item.relative.stem}{suffix}{ext}")
        key = relative.as_posix()
        if key in claimed:
            raise UsageError(
                f"inputs {claimed[key]} and {item.source} would both write {key}; "
                "rename one, or give --suffix or --format"
            )
        claimed[key] = item.source
        extras = []
        for kind, folder in extra:
            extra_ext = ".png" if still else ext
            extras.append((kind, Path(folder, relative.with_suffix(extra_ext))))
        tasks.append(Task(item.source, Path(output, relative), key, tuple(extras)))
    return tasks


def _image_suffix(item: Item, alpha: bool, image_format: str | None) -> str:
    if image_format is not None:
        return "." + image_format.lstrip(".").lower().replace("jpeg", "jpg")
    if alpha:
        return ".png"
    own = item.relative.suffix.lower()
    return own if own in (".png", ".jpg", ".jpeg", ".webp") else ".png"


def _video_suffix(item: Item, alpha: bool, video_format: str | None) -> str:
    if video_format is not None:
        return "." + video_format.lstrip(".").lower()
    own = item.relative.suffix.lower()
    if alpha:
        return own if own in (".mov", ".webm") else ".mov"
    return own if own in (".mp4", ".mov", ".mkv", ".webm") else ".mp4"


def _is_glob(text: str) -> bool:
    return any(char in _GLOB_CHARS for char in text)


def _is_media(path: Path) -> bool:
    suffix = path.suffix.lower()
    return suffix in IMAGE_SUFFIXES or suffix in CLIP_SUFFIXES


def _visible(path: Path, root: Path) -> bool:
    return not any(part.startswith(".") for part in path.relative_to(root).parts)


def _excluded(path: Path, skip: Sequence[Path]) -> bool:
    absolute = Path(os.path.abspath(path))
    return any(absolute == folder or folder in absolute.parents for folder in skip)


def _expand_one(entry: str, recursive: bool, skip: Sequence[Path], base: Path) -> list[Item]:
    """The items of one input; ``base`` is the folder relative paths are read from (a list's own)."""
    if is_url(entry):
        name = PurePosixPath(urlparse(entry).path).name or "stream"
        return [Item(entry, PurePosixPath(name if Path(name).suffix else f"{name}.mp4"))]
    if entry.startswith("@"):
        return _expand_list(Path(base, entry[1:]), recursive, skip)
    path = Path(base, entry)
    if _is_glob(entry):
        return _expand_glob(str(path), skip)
    if path.is_dir():
        return _expand_folder(path, recursive, skip)
    if not path.is_file():
        raise InputNotFoundError(f"input {path} does not exist; check the path (quote globs: 'clips/*.mp4')")
    # A list's relative entries keep the path written in it; other files keep their name.
    keep = base != Path() and not Path(entry).is_absolute() and ".." not in Path(entry).parts
    return [Item(str(path), PurePosixPath(Path(entry).as_posix() if keep else path.name))]


def _expand_list(path: Path, recursive: bool, skip: Sequence[Path]) -> list[Item]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise InputNotFoundError(f"list file {path} does not exist; check the path after @") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(
            f"cannot read list file {path} ({exc}); give a UTF-8 text file, one input a line"
        ) from None
    items = []
    for line in lines:
        entry = line.strip()
        if entry and not entry.startswith("#"):
            items += _expand_one(entry, recursive, skip, path.parent)
    if not items:
        raise InputError(f"list file {path} names no input; write one path or URL a line")
    return items


def _expand_folder(folder: Path, recursive: bool, skip: Sequence[Path]) -> list[Item]:
    found = folder.rglob("*") if recursive else folder.iterdir()
    files = sorted(
        path
        for path in found
        if path.is_file() and _is_media(path) and _visible(path, folder) and not _excluded(path, skip)
    )
    if not files:
        nested = not recursive and any(path.is_dir() for path in folder.iterdir())
        hint = " (pass --recursive to look in subfolders)" if nested else ""
        raise InputError(f"folder {folder} holds no picture or clip{hint}; check the path")
    return [Item(str(path), PurePosixPath(path.relative_to(folder).as_posix())) for path in files]


def _expand_glob(pattern: str, skip: Sequence[Path]) -> list[Item]:
    parts = Path(pattern).parts
    fixed = next((i for i, part in enumerate(parts) if _is_glob(part)), len(parts))
    root = Path(*parts[:fixed]) if fixed else Path()
    files = sorted(
        Path(match)
        for match in glob.glob(pattern, recursive=True)
        if Path(match).is_file() and _is_media(Path(match)) and not _excluded(Path(match), skip)
    )
    files = [path for path in files if _visible(path, root)]
    if not files:
        raise InputNotFoundError(f"pattern {pattern} matches no picture or clip; check the pattern")
    return [Item(str(path), PurePosixPath(path.relative_to(root).as_posix())) for path in files]
