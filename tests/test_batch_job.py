"""A batch through ``livebg video`` and :func:`livebg.process`: exit codes, the summary, and the real
model giving the same outputs in one call as in one call per file."""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np
import pytest

import livebg
from livebg.batch.runner import BatchResult
from livebg.cli import main
from tests.fakes import DiscSession
from tests.media import make_clip, probe, read_frames, write_video


@pytest.fixture
def disc_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every Matter made by the CLI runs the disc stand-in instead of a network."""
    for module in ("livebg.api", "livebg.transcode"):
        monkeypatch.setattr(f"{module}.create_session", lambda config: DiscSession())


def test_cli_batch_exit_codes_and_summary(
    disc_model: None, tmp_path: Path, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.INFO, logger="livebg")
    (tmp_path / "in").mkdir()
    make_clip(tmp_path / "in" / "a.mp4", frames=4)
    make_clip(tmp_path / "in" / "b.mkv", frames=3)
    out = tmp_path / "out"
    args = ["video", str(tmp_path / "in"), "-o", str(out), "--no-progress", "--suffix", "_green"]
    assert main(args) == 0
    assert "2 made, 0 already done, 0 failed of 2 inputs" in caplog.text
    assert probe(out / "a_green.mp4").frames == 4 and probe(out / "b_green.mkv").frames == 3
    (tmp_path / "in" / "c.mp4").write_text("broken")
    assert main(args) == 1
    assert "0 made, 2 already done, 1 failed of 3 inputs" in caplog.text
    broken = tmp_path / "in" / "c.mp4"
    assert f"failed: {broken}: input {broken} is not a video" in caplog.text
    assert capsys.readouterr().err.strip().endswith("livebg: error: 1 of 3 inputs failed (listed above)")
    # A glob and a list file (its entries keep the relative path written in it): already done.
    (tmp_path / "in" / "list.txt").write_text("a.mp4\n")
    glob_and_list = [f"{tmp_path}/in/b.*", f"@{tmp_path / 'in' / 'list.txt'}"]
    assert main(["video", *glob_and_list, "-o", str(out), "--suffix", "_green"]) == 0
    assert "0 made, 2 already done, 0 failed of 2 inputs" in caplog.text


def test_a_trimmed_single_clip_and_its_matte_from_the_cli(disc_model: None, tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "a.mp4", frames=12)
    args = ["video", str(clip), "-o", str(tmp_path / "o.mp4"), "--start", "0:00.2", "--frames", "3"]
    assert main([*args, "--alpha-output", str(tmp_path / "m.mp4"), "--no-progress"]) == 0
    assert probe(tmp_path / "o.mp4").frames == 3 and probe(tmp_path / "m.mp4").frames == 3
    assert probe(tmp_path / "o.mp4").times[0] == 0
    with pytest.raises(SystemExit):
        main(["video", str(clip), "-o", str(tmp_path / "x.mp4"), "--start", "soon"])


def test_real_model_one_batch_call_equals_one_call_per_file(
    data_dir: Path, rvm_checkpoint: Path, tmp_path: Path
) -> None:
    frames = [
        cv2.resize(f, (64, 64), interpolation=cv2.INTER_AREA)
        for f in read_frames(data_dir / "talking_head_man_plain_wall_480.mp4")[:2]
    ]
    folder = tmp_path / "in"
    folder.mkdir()
    write_video(folder / "talk.mp4", frames, audio=True)
    portrait = cv2.imread(str(data_dir / "portrait_doctor_office.jpg"))
    cv2.imwrite(str(folder / "doctor.png"), cv2.resize(portrait, (64, 48), interpolation=cv2.INTER_AREA))
    matter = livebg.Matter(weights=rvm_checkpoint, device="cpu", backend="torch")  # loaded once for both
    result = livebg.process(folder, tmp_path / "batch", processor=lambda: matter, output_type="alpha")
    assert isinstance(result, BatchResult) and result.ok and len(result.done) == 2
    for name in ("talk.mp4", "doctor.png"):
        matter.process(folder / name, tmp_path / name, output_type="alpha")  # what `livebg video` runs
        batch = np.stack(read_frames(tmp_path / "batch" / name, "gray")).astype(int)
        alone = np.stack(read_frames(tmp_path / name, "gray")).astype(int)
        assert batch.shape == alone.shape and np.abs(batch - alone).max() <= 1
        assert 20 < alone.mean() < 235  # a person was found, not an empty or full matte
    assert probe(tmp_path / "batch" / "talk.mp4").audio_packets == probe(folder / "talk.mp4").audio_packets
