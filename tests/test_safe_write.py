"""The write rules every file output follows: exclusive partials unique per run, no clobbering at the
final move, nothing livebg reads ever written or removed, folders only when livebg made them, stale
partials of dead runs cleaned (and nothing else), one-sentence errors."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from livebg.errors import OutputError
from livebg.sinks import safe_write
from livebg.sinks.safe_write import (
    FRAMES_MARKER,
    Partial,
    Protected,
    check_output,
    disk_full_error,
    existing_paths,
    frame_name,
    is_frames_folder,
    output_error,
    partial_name,
    publish_numbered,
    remove_stale_partials,
)


def _partials(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if "livebg-partial" in p.name)


def _dead_pid() -> int:
    """The PID of a process that has ended."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# --- partial names ---------------------------------------------------------------------------------------


def test_partial_names_are_hidden_unique_and_say_who_wrote_them() -> None:
    names = {partial_name("clip.mp4") for _ in range(50)}
    assert len(names) == 50
    for name in names:
        assert name.startswith(".clip.livebg-partial-") and name.endswith(".mp4")
        assert f"-{os.getpid()}-" in name
    assert partial_name("frames", keep_suffix=False).startswith(".frames.livebg-partial-")
    assert not partial_name("frames", keep_suffix=False).endswith(".mp4")


@pytest.mark.parametrize("stem", ["a" * 251, "é" * 125, "视" * 83])
def test_long_names_are_shortened_by_whole_characters(stem: str, tmp_path: Path) -> None:
    name = stem + ".mp4"
    assert len(name.encode()) <= 255
    partial = partial_name(name)
    assert len(partial.encode()) <= 255 and partial.endswith(".mp4")
    partial.encode("utf-8")  # no character cut in half
    assert stem[:10] in partial
    (tmp_path / partial).write_bytes(b"x")  # the file system takes it


def test_an_output_name_over_255_bytes_is_one_sentence(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="more than the 255 a file name may have; choose a shorter name"):
        check_output(tmp_path / ("a" * 260 + ".mp4"), overwrite=False)


# --- partials: exclusive, published without clobbering ---------------------------------------------------


def test_two_partials_for_one_output_never_share_a_file(tmp_path: Path) -> None:
    out = tmp_path / "out.mp4"
    first, second = Partial(out), Partial(out)
    assert first.path != second.path and first.path.parent == second.path.parent == tmp_path
    assert first.path.stat().st_mode & 0o777 == 0o666 & ~_umask()
    first.path.write_bytes(b"first")
    second.path.write_bytes(b"second")
    first.publish(overwrite=False)
    with pytest.raises(OutputError, match="created by another program while livebg worked"):
        second.publish(overwrite=False)
    second.discard()
    assert out.read_bytes() == b"first"
    assert _partials(tmp_path) == []


def test_overwrite_replaces_at_the_move(tmp_path: Path) -> None:
    out = tmp_path / "out.mp4"
    partial = Partial(out)
    partial.path.write_bytes(b"new")
    out.write_bytes(b"finished meanwhile")
    partial.publish(overwrite=True)
    assert out.read_bytes() == b"new" and _partials(tmp_path) == []


def test_discard_removes_only_its_own_partial(tmp_path: Path) -> None:
    out = tmp_path / "x.mp4"
    lookalike = tmp_path / ".x.livebg-partial.mp4"  # a user's file named like an old partial
    lookalike.write_bytes(b"input")
    partial = Partial(out)
    partial.discard()
    partial.discard()
    assert sorted(p.name for p in tmp_path.iterdir()) == [lookalike.name]
    assert lookalike.read_bytes() == b"input"


def test_publish_refuses_a_protected_path_even_at_the_move(tmp_path: Path) -> None:
    source = tmp_path / "in.mp4"
    source.write_bytes(b"input")
    out = tmp_path / "out.mp4"
    partial = Partial(out, protect=[source])
    partial.path.write_bytes(b"result")
    os.link(source, out)  # the output name became the input (a hard link) while livebg worked
    with pytest.raises(OutputError, match="is the input file"):
        partial.publish(overwrite=True)
    partial.discard()
    assert source.read_bytes() == b"input" and _partials(tmp_path) == []


# --- what livebg reads is never written --------------------------------------------------------------------


def test_protected_paths_match_by_path_and_by_file(tmp_path: Path) -> None:
    source = tmp_path / "in.mp4"
    source.write_bytes(b"input")
    (tmp_path / "sub").mkdir()
    symlink = tmp_path / "link.mp4"
    symlink.symlink_to(source)
    hard = tmp_path / "hard.mp4"
    os.link(source, hard)
    protected = Protected([source])
    for same in (source, symlink, hard, tmp_path / "sub" / ".." / "in.mp4"):
        assert protected.match(same) == source, same
        with pytest.raises(OutputError, match="is the input file"):
            check_output(same, overwrite=True, protect=[source])
    assert protected.match(tmp_path / "other.mp4") is None
    assert source.read_bytes() == b"input"


def test_existing_paths_keeps_only_files_livebg_would_read(tmp_path: Path) -> None:
    background = tmp_path / "bg.png"
    background.write_bytes(b"png")
    found = existing_paths(
        str(tmp_path / "missing.mp4"), "green", "blur:30", "rtsp://cam/1", background, None
    )
    assert found == [background]


# --- checks before any work --------------------------------------------------------------------------------


def test_file_outputs_are_checked_in_one_sentence(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match=r"folder .*nowhere does not exist; create it first"):
        check_output(tmp_path / "nowhere" / "out.mp4", overwrite=False)
    existing = tmp_path / "out.mp4"
    existing.write_bytes(b"keep")
    with pytest.raises(OutputError, match="already exists; pass --overwrite"):
        check_output(existing, overwrite=False)
    assert check_output(existing, overwrite=True) == existing
    (tmp_path / "dir.mp4").mkdir()
    with pytest.raises(OutputError, match="is a folder; give a file name"):
        check_output(tmp_path / "dir.mp4", overwrite=True)
    assert existing.read_bytes() == b"keep"


def test_only_a_folder_livebg_wrote_may_be_replaced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    foreign = tmp_path / "photos"
    foreign.mkdir()
    (foreign / "holiday.jpg").write_bytes(b"jpg")
    for overwrite in (False, True):
        with pytest.raises(OutputError, match="was not written by livebg"):
            check_output(foreign, overwrite=overwrite, folder=True)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(OutputError, match="was not written by livebg"):
        check_output(empty, overwrite=True, folder=True)
    monkeypatch.chdir(foreign)
    for dot in (".", "./", "..", str(foreign) + "/"):
        with pytest.raises(OutputError, match="was not written by livebg"):
            check_output(dot, overwrite=True, folder=True)

    ours = tmp_path / "frames"
    ours.mkdir()
    (ours / FRAMES_MARKER).write_text("livebg")
    (ours / frame_name(0)).write_bytes(b"png")
    assert is_frames_folder(ours)
    with pytest.raises(OutputError, match="already exists; pass --overwrite"):
        check_output(ours, overwrite=False, folder=True)
    check_output(ours, overwrite=True, folder=True)
    (ours / "notes.txt").write_text("mine")  # something the user added: no longer only livebg's
    assert not is_frames_folder(ours)
    with pytest.raises(OutputError, match="was not written by livebg"):
        check_output(ours, overwrite=True, folder=True)
    assert (foreign / "holiday.jpg").read_bytes() == b"jpg" and (ours / "notes.txt").exists()


def test_a_livebg_folder_holding_an_input_is_not_replaced(tmp_path: Path) -> None:
    frames = tmp_path / "frames"
    frames.mkdir()
    (frames / FRAMES_MARKER).write_text("livebg")
    (frames / frame_name(3)).write_bytes(b"png")
    with pytest.raises(OutputError, match="which livebg reads"):
        check_output(frames, overwrite=True, protect=[frames / frame_name(3)], folder=True)
    outside = tmp_path / "still.png"
    os.link(frames / frame_name(3), outside)  # the input is a hard link of one of the frames
    with pytest.raises(OutputError, match="which livebg reads"):
        check_output(frames, overwrite=True, protect=[outside], folder=True)


def test_folder_partials_carry_the_marker_and_replace_only_livebg_frames(tmp_path: Path) -> None:
    out = tmp_path / "frames"
    first = Partial(out, folder=True)
    assert (first.path / FRAMES_MARKER).is_file()
    (first.path / frame_name(0)).write_bytes(b"old")
    first.publish(overwrite=False)
    assert is_frames_folder(out)
    second = Partial(out, folder=True)
    (second.path / frame_name(0)).write_bytes(b"new")
    with pytest.raises(OutputError, match="created by another program"):
        second.publish(overwrite=False)
    second.publish(overwrite=True)
    assert (out / frame_name(0)).read_bytes() == b"new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["frames"]


def test_a_failed_folder_partial_is_removed_without_touching_anything_else(tmp_path: Path) -> None:
    partial = Partial(tmp_path / "frames", folder=True)
    (partial.path / frame_name(0)).write_bytes(b"png")
    partial.discard()
    assert list(tmp_path.iterdir()) == []


# --- stale partials -----------------------------------------------------------------------------------------


def test_stale_partials_of_dead_runs_go_and_nothing_else(tmp_path: Path) -> None:
    host = safe_write._HOST
    other_host = "00000000" if host != "00000000" else "11111111"
    dead = _dead_pid()
    dead_file = tmp_path / f".a.livebg-partial-{host}-{dead}-0123abcd.mp4"
    dead_folder = tmp_path / f".frames.livebg-partial-{host}-{dead}-0123abcd"
    alive = tmp_path / f".b.livebg-partial-{host}-{os.getpid()}-0123abcd.mp4"
    remote_recent = tmp_path / f".c.livebg-partial-{other_host}-{dead}-0123abcd.mp4"
    remote_old = tmp_path / f".d.livebg-partial-{other_host}-{dead}-0123abcd.mp4"
    lookalike = tmp_path / ".e.livebg-partial.mp4"  # an old-style name: could be anyone's file
    foreign_folder = tmp_path / f".f.livebg-partial-{host}-{dead}-0123abcd"
    protected = tmp_path / f".g.livebg-partial-{host}-{dead}-0123abcd.mp4"  # an input named like one
    link = tmp_path / f".h.livebg-partial-{host}-{dead}-0123abcd.mp4"
    for path in (dead_file, alive, remote_recent, remote_old, lookalike, protected):
        path.write_bytes(b"data")
    dead_folder.mkdir()
    (dead_folder / FRAMES_MARKER).write_text("livebg")
    (dead_folder / frame_name(0)).write_bytes(b"png")
    foreign_folder.mkdir()
    (foreign_folder / "thesis.tex").write_text("mine")
    link.symlink_to(protected)
    old = os.stat(remote_old).st_mtime - safe_write.STALE_AFTER_S - 60
    os.utime(remote_old, (old, old))

    removed = remove_stale_partials(tmp_path, protect=[protected])
    assert sorted(removed) == sorted([dead_file, dead_folder, remote_old])
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == sorted(p.name for p in (alive, remote_recent, lookalike, foreign_folder, protected, link))
    assert protected.read_bytes() == b"data" and (foreign_folder / "thesis.tex").exists()


def test_a_new_partial_cleans_its_folder_first(tmp_path: Path) -> None:
    stale = tmp_path / f".out.livebg-partial-{safe_write._HOST}-{_dead_pid()}-0123abcd.mp4"
    stale.write_bytes(b"half a video")
    Partial(tmp_path / "out.mp4").discard()
    assert not stale.exists()


# --- numbered files (snapshots) -----------------------------------------------------------------------------


def test_numbered_files_never_overwrite_and_follow_the_umask(tmp_path: Path) -> None:
    (tmp_path / "livebg-0001.png").write_bytes(b"mine")
    previous = os.umask(0o022)
    try:
        first = publish_numbered(b"one", tmp_path)
        second = publish_numbered(b"two", tmp_path)
    finally:
        os.umask(previous)
    assert (first.name, second.name) == ("livebg-0002.png", "livebg-0003.png")
    assert (first.read_bytes(), second.read_bytes()) == (b"one", b"two")
    assert first.stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "livebg-0001.png").read_bytes() == b"mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"livebg-000{n}.png" for n in (1, 2, 3)]
    assert publish_numbered(b"x", tmp_path, "shot-{}.jpg").name == "shot-1.jpg"


def test_numbered_files_into_a_missing_folder_is_one_sentence(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match=r"folder .*missing does not exist"):
        publish_numbered(b"png", tmp_path / "missing")


def test_without_hard_links_names_are_still_never_taken_twice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_links(src: object, dst: object) -> None:
        raise PermissionError(errno.EPERM, "Operation not permitted")  # FAT, some network shares

    monkeypatch.setattr(os, "link", no_links)
    (tmp_path / "livebg-0001.png").write_bytes(b"mine")
    assert publish_numbered(b"png", tmp_path).name == "livebg-0002.png"
    partial = Partial(tmp_path / "livebg-0002.png")
    with pytest.raises(OutputError, match="created by another program"):
        partial.publish(overwrite=False)
    partial.discard()
    assert (tmp_path / "livebg-0001.png").read_bytes() == b"mine"
    assert (tmp_path / "livebg-0002.png").read_bytes() == b"png" and _partials(tmp_path) == []


# --- read-only and full disks -------------------------------------------------------------------------------


def test_a_read_only_folder_is_one_sentence(tmpfs: Callable[..., Path]) -> None:
    folder = tmpfs(read_only=True)
    with pytest.raises(OutputError, match="read-only file system; choose another output folder"):
        check_output(folder / "out.mp4", overwrite=False)
    with pytest.raises(OutputError, match="read-only file system"):
        Partial(folder / "out.mp4")
    with pytest.raises(OutputError, match="read-only file system"):
        publish_numbered(b"png", folder)


def test_a_full_disk_is_one_sentence(tmpfs: Callable[..., Path]) -> None:
    folder = tmpfs(size="64k")
    with pytest.raises(OutputError, match="is full") as caught:
        publish_numbered(b"\0" * 200_000, folder)
    assert "free some space or choose another output folder" in str(caught.value)
    assert list(folder.iterdir()) == []
    message = str(disk_full_error(folder / "out.mp4", 2_000_000, 10, 50))
    assert "2.0 MB were written for 10 frames, about 10.0 MB for all 50 frames" in message


def test_os_errors_become_one_sentence(tmp_path: Path) -> None:
    out = tmp_path / "out.mp4"
    for code, words in [
        (errno.EACCES, "permission denied"),
        (errno.ENOENT, "does not exist"),
        (errno.EIO, "cannot write"),
    ]:
        message = str(output_error(OSError(code, os.strerror(code)), out))
        assert words in message and "\n" not in message
