"""Parts of a clip (--start/--end/--duration/--frames) cut exactly to the frame with the audio to
match, and several outputs (composite, matte, foreground) from one pass."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from livebg.errors import InputError, UsageError
from livebg.sources.span import Span
from livebg.transcode import VideoJob, process_video
from tests.fakes import DiscSession
from tests.media import make_clip, probe, read_frames


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """60 frames at 30 fps (2 s) with a 48 kHz AAC tone."""
    return make_clip(tmp_path_factory.mktemp("span") / "clip.mp4", frames=60, rate=Fraction(30), audio=True)


def _samples(path: Path) -> tuple[int, np.ndarray]:
    with av.open(str(path)) as c:
        frames = list(c.decode(audio=0))
    return frames[0].pts, np.concatenate([f.to_ndarray() for f in frames], axis=1)[0]


def _run(clip: Path, out: Path, **options: object) -> Path:
    process_video(VideoJob.create(clip, out, **options), session=DiscSession())  # type: ignore[arg-type]
    return out


def test_start_and_duration_keep_exactly_those_frames_from_zero_and_the_audio_to_the_sample(
    clip: Path, tmp_path: Path
) -> None:
    whole = read_frames(clip)
    out = _run(clip, tmp_path / "cut.mp4", start=0.5, duration=1.0, background="none")
    got = probe(out)
    # Frames 15..44 (times 0.5 <= t < 1.5), renumbered from time 0 as ffmpeg -ss does.
    assert got.frames == 30
    assert got.times == [Fraction(i, 30) for i in range(30)]
    cut = read_frames(out)
    assert (
        np.abs(cut[0].astype(int) - whole[15]).max() <= 3
        and np.abs(cut[-1].astype(int) - whole[44]).max() <= 3
    )
    # The audio was copied, not re-encoded: the edit list starts it at the cut, sample for sample.
    first, samples = _samples(out)
    _, source = _samples(clip)
    assert first == 0 and samples.size >= 48000
    assert np.abs(samples[:48000] - source[24000:72000]).max() < 1e-4
    copied = {data for _, _, data in probe(out).audio_packets}
    assert copied <= {data for _, _, data in probe(clip).audio_packets}


def test_end_and_frames_are_ffmpeg_to_and_frames(clip: Path, tmp_path: Path) -> None:
    to = probe(_run(clip, tmp_path / "to.mp4", start=1.0, end=1.5, background="none"))
    assert to.frames == 15 and to.times[-1] == Fraction(14, 30)
    first = probe(_run(clip, tmp_path / "first.mp4", frames=7, background="none"))
    assert first.frames == 7 and first.times == [Fraction(i, 30) for i in range(7)]
    # Audio up to the end of the seventh frame (7/30 s = 11200 samples), and the encoder's priming.
    packets = [pts for pts, _, _ in first.audio_packets]
    assert packets[0] == probe(clip).audio_packets[0][0] and packets[-1] < 11200 <= packets[-1] + 1024


def test_a_span_outside_the_clip_or_contradicting_itself_is_one_sentence(clip: Path, tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"has no frames from 5 s; check --start/--end"):
        _run(clip, tmp_path / "late.mp4", start=5.0, background="none")
    assert not (tmp_path / "late.mp4").exists() and not list(tmp_path.iterdir())
    with pytest.raises(UsageError, match="--end 2 and --duration 1 both given"):
        Span.create(end=2, duration=1)
    with pytest.raises(UsageError, match=r"--end 1 is not after --start 3"):
        Span.create(start=3, end=1)
    assert Span.create() is None


def test_composite_matte_and_foreground_from_one_pass(clip: Path, tmp_path: Path) -> None:
    session = DiscSession()
    job = VideoJob.create(
        clip,
        tmp_path / "green.mp4",
        frames=4,
        alpha_output=tmp_path / "alpha/",
        foreground_output=tmp_path / "fg.mkv",
    )
    result = process_video(job, session=session)
    assert result.frames == 4 and session.calls == 4  # one model call per frame for all three outputs
    pngs = sorted((tmp_path / "alpha").glob("*.png"))
    assert len(pngs) == 4
    alpha = cv2.imread(str(pngs[0]), cv2.IMREAD_GRAYSCALE)
    assert alpha[32, 48] == 255 and alpha[0, 0] == 0  # the disc
    foreground = probe(tmp_path / "fg.mkv")
    assert foreground.frames == 4 and not foreground.audio_packets
    assert probe(tmp_path / "green.mp4").audio_packets  # the main output alone keeps the audio
    with pytest.raises(UsageError, match="repeat a path"):
        process_video(VideoJob.create(clip, tmp_path / "x.mp4", alpha_output=tmp_path / "x.mp4"))
    with pytest.raises(UsageError, match="need the model, but --background none skips it"):
        process_video(
            VideoJob.create(clip, tmp_path / "y.mp4", background="none", alpha_output=tmp_path / "a.mp4")
        )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["alpha", "fg.mkv", "green.mp4"]
