"""`livebg video`: the output plays exactly like the input, and no user data is ever lost."""

from __future__ import annotations

import os
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import torch

from livebg.cli import main
from livebg.config import ModelConfig
from livebg.errors import InputError, InputNotFoundError, Interrupted, OutputError, UsageError
from livebg.frames import to_tensor
from livebg.matting.factory import create_session, load_rvm
from livebg.matting.session import Matte
from livebg.transcode import VideoJob, process_video

from .fakes import DiscSession
from .media import make_clip, probe, read_frames, write_video


@pytest.fixture()
def clip(tmp_path: Path) -> Path:
    return make_clip(tmp_path / "in.mp4", audio=True)


def _partials(folder: Path) -> list[Path]:
    return [p for p in folder.iterdir() if "livebg-partial" in p.name]


# --- timing and audio ----------------------------------------------------------------------------------


def test_passthrough_keeps_frames_timestamps_rate_and_audio(clip: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.mp4"
    assert main(["video", str(clip), "-o", str(out), "--background", "none", "--no-progress"]) == 0
    src, dst = probe(clip), probe(out)
    assert dst.frames == src.frames == 12
    assert dst.times == src.times
    assert dst.guessed_rate == src.guessed_rate == Fraction(24000, 1001)
    assert len(src.audio_packets) > 5
    assert dst.audio_packets == src.audio_packets  # copied, not re-encoded
    assert _partials(tmp_path) == []


def test_variable_frame_rate_stays_variable(tmp_path: Path) -> None:
    pts = [0, 10, 15, 40, 41, 60, 90, 100, 130, 131, 150, 200]
    clip = make_clip(tmp_path / "vfr.mp4", pts=pts, time_base=Fraction(1, 100))
    out = tmp_path / "out.mkv"
    process_video(VideoJob(str(clip), out, background="none"))
    assert probe(out).times == probe(clip).times == [Fraction(p, 100) for p in pts]


def test_real_clip_alpha_matches_network_and_keeps_audio(
    data_dir: Path, rvm_checkpoint: Path, tmp_path: Path
) -> None:
    clip = data_dir / "webcam_desk_man_wavy_hair_512.mp4"
    out = tmp_path / "alpha.mp4"
    ratio = 0.25
    args = ["video", str(clip), "-o", str(out), "--output-type", "alpha", "--weights", str(rvm_checkpoint)]
    assert main([*args, "--device", "cpu", "--downsample-ratio", str(ratio), "--no-progress"]) == 0
    src, dst = probe(clip), probe(out)
    assert dst.frames == src.frames == 183
    assert dst.times == src.times
    assert dst.audio_packets == src.audio_packets

    # The official network (ours reproduces it to 1e-4, see test_rvm_conformance) on the same frames.
    model = load_rvm("rvm-mobilenetv3", rvm_checkpoint)
    state = (None, None, None, None)
    written = read_frames(out, "gray")
    diffs = []
    with torch.inference_mode():
        for i, rgb in enumerate(read_frames(clip)):
            _, pha, state = model(to_tensor(rgb, torch.device("cpu")), state, ratio)
            expected = pha[0, 0].numpy() * 255
            diffs.append(np.abs(written[i].astype(np.float32) - expected).mean())
    assert max(diffs) <= 2.0, f"mean abs alpha difference per frame up to {max(diffs):.2f}/255"
    # and the matte is a person: bright in the middle of the frame, dark in the top corners
    middle = written[100][200:400, 150:350].mean()
    corners = np.concatenate([written[100][:60, :60], written[100][:60, -60:]]).mean()
    assert middle > 200 and corners < 20, (middle, corners)


def test_frames_given_to_the_model_in_batches_give_the_same_file(
    data_dir: Path, rvm_checkpoint: Path, tmp_path: Path
) -> None:
    """``--batch`` hands the model consecutive frames at once; the output must be
    the frame-by-frame output: same frames, order, timestamps and audio, same pixels. 14 frames in
    batches of 5 end with a short batch."""
    import cv2

    from livebg.matting.rvm_session import RVMSession

    person = read_frames(data_dir / "webcam_desk_man_wavy_hair_512.mp4")[:14]
    clip = write_video(tmp_path / "in.mp4", [cv2.resize(p, (128, 128)) for p in person], rate=25, audio=True)
    model = load_rvm("rvm-mobilenetv3", rvm_checkpoint)
    outputs = {}
    for batch in (1, 5):
        out = tmp_path / f"batch{batch}.mp4"
        session = RVMSession(model, torch.device("cpu"), downsample_ratio=0.5)
        job = VideoJob(str(clip), out, output_type="alpha", batch=batch)
        assert process_video(job, session=session).frames == 14
        outputs[batch] = out
    one, five = probe(outputs[1]), probe(outputs[5])
    assert five.frames == one.frames == 14
    assert five.times == one.times == probe(clip).times
    assert five.audio_packets == one.audio_packets == probe(clip).audio_packets
    a, b = (np.stack(read_frames(outputs[n], "gray")).astype(np.int16) for n in (1, 5))
    assert np.abs(a - b).max() <= 1
    assert np.abs(a[1:] - a[:-1]).max() > 50  # the person moves: a change of order would show


# --- transparent output ---------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".mov", ".webm", "/"])
def test_transparent_output_carries_the_matte(suffix: str, tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "in.mp4", size=(64, 96), frames=4)
    out = Path(str(tmp_path / "out") + suffix)
    session = DiscSession()
    result = process_video(VideoJob(str(clip), out, background="transparent"), session=session)
    assert result.frames == 4 and session.calls == 4
    if suffix == "/":
        files = sorted(out.glob("*.png"))
        assert len(files) == 4
        import cv2

        alphas = [cv2.imread(str(f), cv2.IMREAD_UNCHANGED)[..., 3] for f in files]
    else:
        codec = "libvpx-vp9" if suffix == ".webm" else None
        alphas = [f[..., 3] for f in read_frames(out, "rgba", codec=codec)]
    assert len(alphas) == 4
    expected = session(torch.zeros(1, 3, 64, 96)).alpha[0, 0].numpy() * 255
    for alpha in alphas:
        assert np.abs(alpha.astype(np.float32) - expected).mean() < 3.0


def test_transparency_in_mp4_is_refused_before_any_work(clip: Path, tmp_path: Path) -> None:
    session = DiscSession()
    with pytest.raises(UsageError, match=r"transparent output cannot be stored in \.mp4"):
        process_video(VideoJob(str(clip), tmp_path / "out.mp4", background="transparent"), session=session)
    assert session.calls == 0
    assert not (tmp_path / "out.mp4").exists() and _partials(tmp_path) == []


# --- nothing lost ---------------------------------------------------------------------------------------


def test_input_is_never_overwritten(clip: Path, tmp_path: Path) -> None:
    before = clip.read_bytes()
    with pytest.raises(OutputError, match="is the input"):
        process_video(VideoJob(str(clip), clip, background="none", overwrite=True))
    link = tmp_path / "link.mp4"
    link.symlink_to(clip)
    with pytest.raises(OutputError, match="is the input"):
        process_video(VideoJob(str(clip), link, background="none", overwrite=True))
    hard = tmp_path / "hard.mp4"
    os.link(clip, hard)
    with pytest.raises(OutputError, match="is the input"):
        process_video(VideoJob(str(clip), hard, background="none", overwrite=True))
    assert clip.read_bytes() == before


def test_existing_output_needs_overwrite(clip: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.mp4"
    out.write_bytes(b"keep me")
    with pytest.raises(OutputError, match="--overwrite"):
        process_video(VideoJob(str(clip), out, background="none"))
    assert out.read_bytes() == b"keep me"
    process_video(VideoJob(str(clip), out, background="none", overwrite=True))
    assert probe(out).frames == 12


class _FailingSession(DiscSession):
    def __init__(self, exc: BaseException) -> None:
        super().__init__()
        self.exc = exc

    def __call__(self, src: torch.Tensor) -> Matte:
        if self.calls == 5:
            raise self.exc
        return super().__call__(src)


@pytest.mark.parametrize("exc", [KeyboardInterrupt(), RuntimeError("boom")])
def test_interruption_or_failure_leaves_no_output(exc: BaseException, clip: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.mp4"
    out.write_bytes(b"previous result")
    expected = Interrupted if isinstance(exc, KeyboardInterrupt) else RuntimeError
    with pytest.raises(expected):
        process_video(
            VideoJob(str(clip), out, background="green", overwrite=True), session=_FailingSession(exc)
        )
    assert out.read_bytes() == b"previous result"  # the old output is untouched
    assert _partials(tmp_path) == []
    new = tmp_path / "new.mp4"
    with pytest.raises(expected):
        process_video(VideoJob(str(clip), new, background="green"), session=_FailingSession(exc))
    assert not new.exists() and _partials(tmp_path) == []


def test_bad_inputs_raise_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InputNotFoundError, match="does not exist"):
        process_video(VideoJob(str(tmp_path / "missing.mp4"), tmp_path / "o.mp4", background="none"))
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(np.random.default_rng(0).integers(0, 256, 50_000, dtype=np.uint8).tobytes())
    with pytest.raises(InputError):
        process_video(VideoJob(str(corrupt), tmp_path / "o.mp4", background="none"))
    text = tmp_path / "notes.txt"
    text.write_text("not a video\n" * 100)
    with pytest.raises(InputError):
        process_video(VideoJob(str(text), tmp_path / "o.mp4", background="none"))
    assert _partials(tmp_path) == [] and not (tmp_path / "o.mp4").exists()


def test_truncated_video_is_reported_and_leaves_no_output(clip: Path, tmp_path: Path) -> None:
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(clip.read_bytes()[: clip.stat().st_size // 3])
    out = tmp_path / "o.mp4"
    with pytest.raises(InputError):
        process_video(VideoJob(str(truncated), out, background="none"))
    assert not out.exists() and _partials(tmp_path) == []


def test_weights_problems_are_one_sentence(clip: Path, tmp_path: Path) -> None:
    wrong = tmp_path / "wrong.pth"
    torch.save({"conv.weight": torch.zeros(3, 3)}, wrong)
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"\x00" * 1000)
    for weights, message in [
        (tmp_path / "missing.pth", "does not exist"),
        (wrong, "not an RVM checkpoint"),
        (garbage, "is not a PyTorch checkpoint"),
    ]:
        with pytest.raises(Exception, match=message):
            create_session(ModelConfig(weights=weights, device="cpu"))


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "livebg", *args], capture_output=True, text=True, timeout=120
    )


def test_cli_reports_errors_in_one_line_without_traceback(clip: Path, tmp_path: Path) -> None:
    cases = [
        (["video", str(tmp_path / "nope.mp4"), "-o", str(tmp_path / "o.mp4")], "does not exist"),
        (["video", str(clip), "-o", str(clip), "--overwrite"], "is the input"),
        (["video", str(clip), "-o", str(tmp_path / "o.mp4"), "--background", "transparent"], "transparent"),
        (["video", str(clip), "-o", str(tmp_path / "o.mp4"), "--weights", str(tmp_path / "w.pth")], "w.pth"),
    ]
    for args, message in cases:
        result = _cli(*args)
        assert result.returncode != 0, args
        assert "Traceback" not in result.stderr, result.stderr
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("livebg: error:") and message in lines[0], (
            result.stderr
        )
    verbose = _cli("--verbose", *cases[0][0])
    assert "Traceback" in verbose.stderr


@pytest.mark.slow
def test_full_1080p_clip_with_audio_and_an_inexact_header(
    data_dir: Path, rvm_checkpoint: Path, tmp_path: Path
) -> None:
    """The header says 260 frames, 250 decode; the output has the 250, their times and the audio."""
    clip = data_dir / "group_talking_audio_1080p.mp4"
    out = tmp_path / "out.mp4"
    job = VideoJob(
        str(clip), out, background="office", model=ModelConfig(weights=rvm_checkpoint, device="cpu")
    )
    assert process_video(job).frames == 250
    src, dst = probe(clip), probe(out)
    assert dst.frames == src.frames == 250
    assert dst.times == src.times
    assert dst.guessed_rate == src.guessed_rate == Fraction(24000, 1001)
    assert dst.audio_packets == src.audio_packets


def test_image_in_image_out_and_a_clip_into_one_image_is_refused(clip: Path, tmp_path: Path) -> None:
    import cv2

    still = tmp_path / "still.jpg"
    cv2.imwrite(str(still), np.full((60, 90, 3), (40, 160, 220), np.uint8))
    out = tmp_path / "cut.png"
    session = DiscSession()
    assert process_video(VideoJob(str(still), out, background="transparent"), session=session).frames == 1
    alpha = cv2.imread(str(out), cv2.IMREAD_UNCHANGED)[..., 3]
    expected = session(torch.zeros(1, 3, 60, 90)).alpha[0, 0].numpy() * 255
    assert np.abs(alpha.astype(np.float32) - expected).max() <= 1
    assert _partials(tmp_path) == []
    with pytest.raises(UsageError, match=r"transparent output cannot be stored in \.jpg"):
        process_video(VideoJob(str(still), tmp_path / "cut.jpg", background="transparent"), session=session)
    session = DiscSession()
    with pytest.raises(UsageError, match="single image"):
        process_video(VideoJob(str(clip), tmp_path / "frame.png", background="green"), session=session)
    assert session.calls == 0 and not (tmp_path / "frame.png").exists()
