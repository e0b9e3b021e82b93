"""`livebg video` end to end through the file pipeline (livebg/transcode.py): frames, timestamps,
audio, refusals."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from livebg.cli import main
from livebg.config import ModelConfig
from livebg.errors import InputError, InputNotFoundError, Interrupted, OutputError, UsageError
from livebg.matting.factory import create_session, load_rvm
from livebg.matting.session import Matte
from livebg.tensors import to_tensor
from livebg.transcode import VideoJob, process_video

from .fakes import DiscSession
from .media import (
    make_clip,
    marked,
    marker_corners,
    probe,
    read_frames,
    side_packets,
    timecodes,
    write_jpeg,
    write_video,
)


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


# --- what a player shows, cut-off and odd inputs ----------------------------------------------------------


class _SeeingSession(DiscSession):
    """Remembers the size of each picture the model is given and its top-right pixel."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[tuple[int, int], list[float]]] = []

    def __call__(self, src: torch.Tensor) -> Matte:
        h, w = src.shape[-2:]
        self.seen.append(((h, w), src[0, :, 5, w - 6].tolist()))
        return super().__call__(src)


def test_phone_clip_comes_out_upright_and_the_model_sees_it_upright(tmp_path: Path) -> None:
    """A display matrix of a quarter turn clockwise (a phone held upright): the output is 48x64 with
    the red square at the top right, as a player shows the input, and carries no matrix of its own."""
    clip = write_video(tmp_path / "phone.mp4", marked(frames=5), rate=25, rotation=-90, audio=True)
    out = tmp_path / "out.mp4"
    assert main(["video", str(clip), "-o", str(out), "--background", "none", "--no-progress"]) == 0
    src, dst = probe(clip), probe(out)
    assert (src.width, src.height, src.rotation) == (64, 48, -90)
    assert (dst.width, dst.height, dst.rotation) == (48, 64, 0)
    assert dst.frames == 5 and dst.times == src.times and dst.audio_packets == src.audio_packets
    assert [marker_corners(rgb) for rgb in read_frames(out)] == [("TR", "BR")] * 5
    session = _SeeingSession()
    process_video(VideoJob(str(clip), tmp_path / "green.mp4", background="green"), session=session)
    assert len(session.seen) == 5
    for size, top_right in session.seen:
        assert size == (64, 48)
        assert top_right == pytest.approx([1.0, 0.0, 0.0], abs=0.05)


def test_photo_with_exif_orientation_comes_out_upright(tmp_path: Path) -> None:
    import cv2

    still = write_jpeg(tmp_path / "photo.jpg", marked(frames=1)[0], orientation=6)
    out = tmp_path / "out.png"
    assert main(["video", str(still), "-o", str(out), "--background", "none", "--no-progress"]) == 0
    rgb = cv2.cvtColor(cv2.imread(str(out), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    assert rgb.shape == (64, 48, 3)
    assert marker_corners(rgb) == ("TR", "BR")


def test_cut_off_download_is_an_error_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rng = np.random.default_rng(0)
    pictures = [rng.integers(0, 256, (48, 64, 3), dtype=np.uint8) for _ in range(50)]
    # index at the front, as streaming sites serve clips: the first half plays
    faststart = {"movflags": "faststart"}
    clip = write_video(tmp_path / "whole.mp4", pictures, rate=25, crf=10, muxer_options=faststart)
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(clip.read_bytes()[: clip.stat().st_size // 2])
    before = cut.read_bytes()
    out = tmp_path / "out.mp4"
    assert main(["video", str(cut), "-o", str(out), "--background", "none", "--no-progress"]) == 1
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("livebg: error: input"), lines
    assert re.search(r"only \d+ of about 50 frames could be read; pass --allow-truncated", lines[0])
    assert not out.exists() and _partials(tmp_path) == []
    assert cut.read_bytes() == before
    # --allow-truncated keeps the readable part, says so once, and exits 0.
    readable = int(re.search(r"only (\d+) of", lines[0]).group(1))  # type: ignore[union-attr]
    args = ["video", str(cut), "-o", str(out), "--background", "none", "--no-progress", "--allow-truncated"]
    assert main(args) == 0
    assert probe(out).frames == readable and 0 < readable < 50
    assert cut.read_bytes() == before


@pytest.mark.timeout(60)
def test_fifo_input_is_refused_at_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fifo = tmp_path / "in.mp4"
    os.mkfifo(fifo)
    out = tmp_path / "out.mp4"
    assert main(["video", str(fifo), "-o", str(out), "--background", "none", "--no-progress"]) == 1
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1 and "is a FIFO, not a file" in lines[0], lines
    assert not out.exists() and _partials(tmp_path) == []


@pytest.mark.parametrize(
    ("size", "options"),
    [
        ((1, 1), {}),
        ((2, 2), {"pix_fmt": "yuv420p"}),
        ((57, 101), {}),
        ((48, 64), {"pix_fmt": "yuv420p10le"}),
        ((48, 64), {"pix_fmt": "yuvj420p"}),
        ((48, 64), {"codec": "ffv1", "pix_fmt": "gray"}),
        ((48, 64), {"extra_streams": True, "audio": True}),
        ((48, 64), {"pts": [0, 1, 2, 40, 41, 90], "time_base": Fraction(1, 25)}),
    ],
    ids=["1x1", "2x2", "101x57", "10-bit", "full-range", "grey", "extra-streams", "vfr-gaps"],
)
def test_odd_inputs_pass_through_with_their_size_and_timing(
    tmp_path: Path, size: tuple[int, int], options: dict[str, Any]
) -> None:
    suffix = ".mkv" if options.get("codec") == "ffv1" else ".mp4"
    colour = (90, 90, 90)
    pictures = [np.full((*size, 3), colour, np.uint8)] * 6
    clip = write_video(tmp_path / f"in{suffix}", pictures, rate=options.pop("rate", 25), **options)
    out = tmp_path / "out.mp4"
    assert main(["video", str(clip), "-o", str(out), "--background", "none", "--no-progress"]) == 0
    src, dst = probe(clip), probe(out)
    assert (dst.height, dst.width) == size
    assert dst.frames == 6 and dst.times == src.times
    assert dst.audio_packets == src.audio_packets
    for rgb in read_frames(out):
        assert np.abs(rgb.astype(int) - colour).max() <= 4


# --- subtitle, data and extra streams ---------------------------------------------------------------------

_SECOND_VIDEO = "the video stream #3 (h264), as livebg writes one video stream"


@pytest.fixture()
def many_streams(tmp_path: Path) -> Path:
    """Subtitle #0 (mov_text "hi" at 0 s for 0.1 s), data #1, video #2, a second video #3, AAC audio #4,
    timecode 01:00:00:00."""
    path, pictures = tmp_path / "in.mp4", marked(frames=10)
    return write_video(path, pictures, rate=25, audio=True, extra_streams=True, timecode="01:00:00:00")


def _not_kept(caplog: pytest.LogCaptureFixture) -> list[str]:
    lines = [r.getMessage() for r in caplog.records if "not kept" in r.getMessage()]
    caplog.clear()
    return lines


@pytest.mark.parametrize(
    ("suffix", "text", "data_kept"),
    [
        (".mp4", b"\x00\x02hi", True),
        (".mov", b"\x00\x02hi", True),
        (".mkv", b"0,0,Default,,0,0,0,,hi", False),  # converted to ASS
    ],
)
def test_subtitles_data_and_timecode_are_kept_where_the_container_holds_them(
    many_streams: Path,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    suffix: str,
    text: bytes,
    data_kept: bool,
) -> None:
    out = tmp_path / f"out{suffix}"
    assert main(["video", str(many_streams), "-o", str(out), "--background", "none", "--no-progress"]) == 0
    src, dst = probe(many_streams), probe(out)
    assert dst.frames == 10 and [t - dst.times[0] for t in dst.times] == src.times
    assert [p[1:] for p in dst.audio_packets] == [p[1:] for p in src.audio_packets]  # copied untouched
    # The cue at the same time relative to the first frame (Matroska shifts the whole file), same text.
    subtitles = [p for p in side_packets(out) if p[0] == "subtitle"]
    assert [(at - dst.times[0], length, payload) for _, at, length, payload in subtitles] == [
        (Fraction(0), Fraction(1, 10), text)
    ]
    data = [p for p in side_packets(out) if p[0] == "data" and p[3] == b"\x01\x02"]
    assert len(data) == int(data_kept)
    assert timecodes(out) == {"01:00:00:00"}
    dropped = "" if data_kept else "; the data stream #1 (bin_data), as .mkv files hold no data streams"
    assert _not_kept(caplog) == [f"not kept in {out}: {_SECOND_VIDEO}{dropped}"]


def test_webm_converts_subtitles_to_webvtt_and_a_png_sequence_names_every_stream(
    many_streams: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    webm = tmp_path / "out.webm"
    args = ["--background", "none", "--no-progress"]
    assert main(["video", str(many_streams), "-o", str(webm), "--no-audio", *args]) == 0
    assert [(kind, payload) for kind, _, _, payload in side_packets(webm)] == [("subtitle", b"hi")]
    assert _not_kept(caplog) == [
        f"not kept in {webm}: {_SECOND_VIDEO}; the data stream #1 (bin_data), as .webm files hold no data "
        "streams"
    ]
    folder = tmp_path / "frames"
    assert main(["video", str(many_streams), "-o", f"{folder}/", *args]) == 0
    assert len(list(folder.glob("*.png"))) == 10
    assert _not_kept(caplog) == [
        f"not kept in {folder}: {_SECOND_VIDEO}; the subtitle stream #0 (mov_text), the data stream #1 "
        "(bin_data), the audio stream #4 (aac) and the timecode, as a PNG sequence holds only the frames"
    ]


def test_a_part_keeps_the_cues_inside_it_and_says_the_timecode_is_not_kept(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clip = write_video(
        tmp_path / "in.mp4", marked(frames=10), rate=25, extra_streams=True, timecode="01:00:00:00"
    )
    out = tmp_path / "part.mp4"
    args = ["--start", "0.2", "--background", "none", "--no-progress"]
    assert main(["video", str(clip), "-o", str(out), *args]) == 0
    assert probe(out).frames == 5
    # The one cue and data sample lie at 0 s, before the part: what is left is MP4's empty (no text) cue.
    assert [payload for _, _, _, payload in side_packets(out)] == [b"\x00\x00"]
    assert timecodes(out) == set()
    assert _not_kept(caplog) == [
        f"not kept in {out}: {_SECOND_VIDEO}; the timecode, as it is the whole clip's, and this part "
        "starts at 0.2 s"
    ]
