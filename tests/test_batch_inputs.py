"""Expanding a batch's inputs (files, folders, globs, @lists, URLs) and naming their outputs."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

import pytest

from livebg.batch.inputs import expand, is_batch, plan
from livebg.errors import InputError, InputNotFoundError, UsageError


def _tree(root: Path, *names: str) -> Path:
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")
    return root


def _relative(items: list) -> list[str]:
    return [item.relative.as_posix() for item in items]


def test_folders_globs_and_lists_mirror_their_relative_paths(tmp_path: Path) -> None:
    root = _tree(
        tmp_path / "in",
        "a.mp4",
        "b.JPG",
        "notes.txt",
        ".a.livebg-partial.mp4",
        "sub/c.mov",
        "sub/.hidden/d.mp4",
        "out/old.mp4",
    )
    assert _relative(expand([root])) == ["a.mp4", "b.JPG"]
    # Recursive, without hidden files, other files, or the output folder inside the input folder.
    assert _relative(expand([root], recursive=True, exclude=[root / "out"])) == [
        "a.mp4",
        "b.JPG",
        "sub/c.mov",
    ]
    assert _relative(expand([f"{root}/**/*.mov"])) == ["sub/c.mov"]
    listing = tmp_path / "in" / "list.txt"
    listing.write_text(f"# clips\nsub/c.mov\n\n{root / 'a.mp4'}\nhttps://example.com/talks/t1.mp4\n")
    items = expand([f"@{listing}", root / "a.mp4"])  # a.mp4 twice: kept once
    assert _relative(items) == ["sub/c.mov", "a.mp4", "t1.mp4"]
    assert items[0].source == str(root / "sub" / "c.mov") and items[2].source.startswith("https://")


def test_what_is_a_batch(tmp_path: Path) -> None:
    clip = _tree(tmp_path, "a.mp4") / "a.mp4"
    assert not is_batch(clip) and not is_batch([str(clip)]) and not is_batch("rtsp://cam/1")
    assert is_batch(tmp_path) and is_batch([clip, clip]) and is_batch("clips/*.mp4") and is_batch("@l.txt")


def test_missing_or_empty_inputs_are_one_sentence(tmp_path: Path) -> None:
    _tree(tmp_path, "only/notes.txt", "deep/x/a.mp4")
    with pytest.raises(InputNotFoundError, match=r"input .*nope.mp4 does not exist; check the path"):
        expand([tmp_path / "nope.mp4"])
    with pytest.raises(InputError, match=r"folder .*only holds no picture or clip; check the path"):
        expand([tmp_path / "only"])
    with pytest.raises(InputError, match=r"pass --recursive to look in subfolders"):
        expand([tmp_path / "deep"])
    with pytest.raises(InputNotFoundError, match=r"pattern .*\*.mkv matches no picture or clip"):
        expand([f"{tmp_path}/*.mkv"])
    with pytest.raises(InputNotFoundError, match=r"list file .*none.txt does not exist"):
        expand([f"@{tmp_path / 'none.txt'}"])


def test_output_names_follow_the_kind_of_input_and_the_options(tmp_path: Path) -> None:
    root = _tree(tmp_path / "in", "a.mp4", "b.jpg", "c.png", "d.bmp", "e.avi", "sub/f.webm")
    items = expand([root], recursive=True)
    out = tmp_path / "out"

    def names(**options: object) -> list[str]:
        return [task.key for task in plan(items, out, **options)]  # type: ignore[arg-type]

    assert names() == ["a.mp4", "b.jpg", "c.png", "d.png", "e.mp4", "sub/f.webm"]
    assert names(transparent=True) == ["a.mov", "b.png", "c.png", "d.png", "e.mov", "sub/f.webm"]
    # A matte is not transparent: the inputs' own formats.
    assert names(transparent=True, output_type="alpha")[:2] == ["a.mp4", "b.jpg"]
    assert names(video_format="mkv", image_format="webp", suffix="_nobg")[:2] == ["a_nobg.mkv", "b_nobg.webp"]
    tasks = plan(items, out, extra=[("alpha", tmp_path / "mattes")])
    assert tasks[0].output == out / "a.mp4"
    assert tasks[0].extra == (("alpha", tmp_path / "mattes" / "a.mp4"),)
    assert tasks[1].extra == (("alpha", tmp_path / "mattes" / "b.png"),)  # stills' mattes are PNG
    assert tasks[5].outputs == (out / "sub" / "f.webm", tmp_path / "mattes" / "sub" / "f.webm")


def test_two_inputs_claiming_one_output_or_bad_formats_are_refused(tmp_path: Path) -> None:
    items = expand([_tree(tmp_path, "x/a.jpg", "x/a.png") / "x"])
    with pytest.raises(UsageError, match=r"inputs .*a.jpg and .*a.png would both write a.png"):
        plan(items, tmp_path / "out", transparent=True)
    with pytest.raises(UsageError, match="--format avi: use one of mp4, mov, mkv, webm"):
        plan(items, tmp_path / "out", video_format="avi")
    with pytest.raises(UsageError, match="--suffix 'a/b' holds a path separator"):
        plan(items, tmp_path / "out", suffix="a/b")
    assert plan(items, tmp_path / "out")[0].key == PurePosixPath("a.jpg").as_posix()


def test_an_output_named_like_a_file_is_refused_unless_it_is_a_folder(tmp_path: Path) -> None:
    items = expand([_tree(tmp_path, "x/a.jpg", "x/b.mp4") / "x"])
    with pytest.raises(UsageError, match=r"-o .*out.mp4 is named like a file, but a batch of 2 inputs"):
        plan(items, tmp_path / "out.mp4")
    assert not (tmp_path / "out.mp4").exists()
    (tmp_path / "out.mp4").mkdir()  # a folder the user named so is still a folder
    assert [t.outputs[0].name for t in plan(items, tmp_path / "out.mp4")] == ["a.jpg", "b.mp4"]
