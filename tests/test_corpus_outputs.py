"""Reliability corpus, outputs part: `livebg video` used as a careless or unlucky user would, on files
the tests make. Every case checks the exit code, exactly one ``livebg: error:`` line and no traceback
for a refusal, which files exist afterwards, and that inputs and files that were already there are
byte for byte what they were. Signals, two jobs at once and a closed pipe run real ``livebg``
processes; the rest calls ``main()`` in this process. ``--background none`` keeps the model out."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from livebg.cli import main
from livebg.sinks import safe_write

from .media import make_clip, probe, write_video

FAST = ["--background", "none", "--no-progress"]


def _files(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` with the hash of its bytes."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _partials(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if "livebg-partial" in p.name]


def _one_error(stderr: str, words: str) -> None:
    assert "Traceback" not in stderr, stderr
    errors = [line for line in stderr.splitlines() if line.startswith("livebg: error:")]
    assert len(errors) == 1 and words in errors[0], stderr


def _refused(capsys: pytest.CaptureFixture[str], args: list[str], words: str, code: int = 1) -> None:
    assert main(args) == code
    _one_error(capsys.readouterr().err, words)


@pytest.fixture()
def clip(tmp_path: Path) -> Path:
    return make_clip(tmp_path / "in.mp4", frames=12)


# --- folders ---------------------------------------------------------------------------------------------


def test_overwrite_into_the_inputs_own_folder_deletes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "holiday"
    folder.mkdir()
    clip = make_clip(folder / "in.mp4", frames=6)
    (folder / "notes.txt").write_text("keep me")
    before = _files(tmp_path)
    for output in (f"{folder}/", str(folder)):
        for extra in ([], ["--overwrite"]):
            _refused(capsys, ["video", str(clip), "-o", output, *extra, *FAST], "was not written by livebg")
    assert _files(tmp_path) == before


def test_an_existing_foreign_folder_and_the_current_folder_are_refused(
    tmp_path: Path, clip: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "a.jpg").write_bytes(b"jpeg bytes")
    before = _files(tmp_path)
    monkeypatch.chdir(photos)
    for output in (str(photos), ".", "./", ".."):
        for extra in ([], ["--overwrite"]):
            _refused(capsys, ["video", str(clip), "-o", output, *extra, *FAST], "was not written by livebg")
    assert _files(tmp_path) == before


def test_a_png_folder_livebg_wrote_is_replaced_only_with_overwrite(
    tmp_path: Path, clip: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "frames"
    assert main(["video", str(clip), "-o", f"{out}/", *FAST]) == 0
    assert len(list(out.glob("frame_*.png"))) == 12
    before = _files(tmp_path)
    _refused(capsys, ["video", str(clip), "-o", f"{out}/", *FAST], "already exists; pass --overwrite")
    assert _files(tmp_path) == before
    assert main(["video", str(clip), "-o", f"{out}/", "--overwrite", *FAST]) == 0
    assert len(list(out.glob("frame_*.png"))) == 12 and _partials(tmp_path) == []


# --- what livebg reads ------------------------------------------------------------------------------------


def test_an_input_named_like_a_partial_is_read_not_deleted(tmp_path: Path) -> None:
    """Both an old-style partial name and livebg's own pattern with a writer that has ended: the run
    that reads the file never removes it, nor writes over it."""
    source = make_clip(tmp_path / "source.mp4", frames=12)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    for name in (".x.livebg-partial.mp4", f".x.livebg-partial-{safe_write._HOST}-{dead.pid}-0123abcd.mp4"):
        folder = tmp_path / name.strip(".")
        folder.mkdir()
        named = folder / name
        named.write_bytes(source.read_bytes())
        before = _files(folder)
        assert main(["video", str(named), "-o", str(folder / "x.mp4"), *FAST]) == 0
        assert probe(folder / "x.mp4").frames == 12
        after = _files(folder)
        assert sorted(after) == sorted([*before, "x.mp4"])
        assert {name: after[name] for name in before} == before


def test_the_background_file_is_never_the_output(
    tmp_path: Path, clip: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    image = tmp_path / "beach.png"
    image.write_bytes(b"\x89PNG not really")
    video = make_clip(tmp_path / "waves.mp4", frames=4)
    before = _files(tmp_path)
    for background in (image, video):
        args = ["video", str(clip), "-o", str(background), "-b", str(background), "--overwrite"]
        _refused(capsys, args, "is the input file")
    assert _files(tmp_path) == before


# --- where it cannot be written -----------------------------------------------------------------------------


def test_a_read_only_destination_is_one_sentence(
    tmpfs: Callable[..., Path], clip: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmpfs(read_only=True)
    _refused(capsys, ["video", str(clip), "-o", str(folder / "out.mp4"), *FAST], "read-only file system")
    _refused(capsys, ["video", str(clip), "-o", f"{folder / 'frames'}/", *FAST], "read-only file system")


def test_a_full_disk_is_one_sentence_and_leaves_nothing(
    tmpfs: Callable[..., Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    noise = np.random.default_rng(0).integers(0, 256, (30, 96, 128, 3), dtype=np.uint8)
    clip = write_video(tmp_path / "noise.mp4", list(noise))
    folder = tmpfs(size="200k")
    before = _files(tmp_path)
    for output in (folder / "out.mp4", f"{folder / 'frames'}/"):
        _refused(capsys, ["video", str(clip), "-o", str(output), "--crf", "0", *FAST], "is full")
        assert list(folder.iterdir()) == []
    assert _files(tmp_path) == before


def test_missing_folders_and_overlong_names_are_one_sentence(
    tmp_path: Path, clip: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _refused(capsys, ["video", str(clip), "-o", str(tmp_path / "no" / "out.mp4"), *FAST], "does not exist")
    long = tmp_path / ("x" * 300 + ".mp4")
    _refused(capsys, ["video", str(clip), "-o", str(long), *FAST], "choose a shorter name")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mp4"]


# --- real processes -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """1500 small frames: a few seconds of work with --background none, time to be interrupted."""
    return make_clip(tmp_path_factory.mktemp("long") / "long.mp4", frames=1500)


def _writing(folder: Path) -> bool:
    """Whether a partial in ``folder`` has received encoded data (the run is in its frames)."""
    for partial in _partials(folder):
        try:
            if partial.stat().st_size > 0:
                return True
        except FileNotFoundError:
            continue
    return False


def _as_in_a_terminal() -> None:
    # The test runner may ignore these (nohup, background jobs); a child inherits that.
    signal.signal(signal.SIGHUP, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _livebg(*args: str, **kwargs: object) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "livebg", *args],
        text=True,
        preexec_fn=_as_in_a_terminal,
        **kwargs,  # type: ignore[call-overload]
    )


def test_stop_signals_mid_run_leave_nothing(long_clip: Path, tmp_path: Path) -> None:
    """SIGTERM (kill, a service manager) and SIGHUP (a closed terminal), each followed by a Ctrl-C during
    the cleanup, end the run with one line, the shell's exit code and no partial. The two runs go at
    once; each is signalled 0.2 s after the first encoded bytes reached its partial, when it is surely
    in the frames. (Ctrl-C itself is the same handler: tests/test_terminal.py.)"""
    cases = {"SIGTERM": [signal.SIGTERM, signal.SIGINT], "SIGHUP": [signal.SIGHUP, signal.SIGINT]}
    runs = {}
    for name in cases:
        folder = tmp_path / name
        folder.mkdir()
        args = ["video", str(long_clip), "-o", str(folder / "out.mp4"), *FAST]
        runs[name] = (folder, _livebg(*args, stderr=subprocess.PIPE))
    appeared: dict[str, float] = {}
    waiting = set(cases)
    deadline = time.monotonic() + 180
    while waiting:
        assert time.monotonic() < deadline
        for name in sorted(waiting):
            folder, process = runs[name]
            assert process.poll() is None, f"{name}: livebg ended before it was signalled"
            if name not in appeared and _writing(folder):
                appeared[name] = time.monotonic()
            if name in appeared and time.monotonic() - appeared[name] >= 0.2:
                for signum in cases[name]:
                    process.send_signal(signum)
                    time.sleep(0.005)
                waiting.discard(name)
        time.sleep(0.01)
    for name, (folder, process) in runs.items():
        stderr = process.communicate(timeout=120)[1]
        assert process.returncode == 128 + cases[name][0], (name, stderr)
        _one_error(stderr, "interrupted after")
        assert list(folder.iterdir()) == [], name


def test_two_jobs_writing_one_output_never_leave_a_broken_file(
    long_clip: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A `livebg` process and this one write the same output at the same time: this one starts once the
    other is in its frames, so both pass the check at the start and meet at the final move, where the
    one that comes second is refused (the other's file is kept whole)."""
    import livebg.transcode  # noqa: F401 (loads torch now, not in the middle of the race)

    out = tmp_path / "out.mp4"
    other = _livebg("video", str(long_clip), "-o", str(out), *FAST, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 180
    while not _partials(tmp_path):
        assert other.poll() is None, other.communicate()[1]
        assert time.monotonic() < deadline
        time.sleep(0.01)
    code = main(["video", str(long_clip), "-o", str(out), *FAST])
    stderr = capsys.readouterr().err
    other_stderr = other.communicate(timeout=300)[1]
    assert sorted([code, other.returncode]) == [0, 1], (stderr, other_stderr)
    _one_error(stderr if code else other_stderr, "created by another program while livebg worked")
    assert probe(out).frames == 1500
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mp4"]


def test_a_closed_pipe_does_not_stop_the_job(clip: Path, tmp_path: Path) -> None:
    """`livebg video ... 2>&1 | head -1`: the progress bar and the log lines go nowhere, the job ends."""
    read, write = os.pipe()
    os.close(read)
    out = tmp_path / "out.mp4"
    job = _livebg("video", str(clip), "-o", str(out), "--background", "none", stdout=write, stderr=write)
    os.close(write)
    assert job.wait(timeout=120) == 0
    assert probe(out).frames == 12 and _partials(tmp_path) == []
