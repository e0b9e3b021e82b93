"""Opening and decoding with PyAV (livebg/sources/media.py), through the file source that uses it:
every input comes out complete with exact timestamps, or is refused in one sentence."""

from __future__ import annotations

import logging
import os
import re
from fractions import Fraction
from pathlib import Path
from types import SimpleNamespace

import av
import numpy as np
import pytest

from livebg.backgrounds import parse_background
from livebg.errors import BackgroundError, InputError, InputNotFoundError
from livebg.frames import Frame
from livebg.sources.camera import CaptureSettings, open_reader
from livebg.sources.media import MediaInput, frame_rate
from livebg.sources.video_file import VideoFileSource

from .media import marked, marker_corners, write_video


def _read(path: Path, **options: bool) -> tuple[VideoFileSource, list[Frame]]:
    with VideoFileSource(path, with_audio=False, **options) as source:
        return source, [item for item in source if isinstance(item, Frame)]


# --- truncated and damaged files ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def faststart(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A 50-frame 25 fps MP4 with its index at the front (as streaming sites serve them), as bytes."""
    rng = np.random.default_rng(0)
    pictures = [rng.integers(0, 256, (48, 64, 3), dtype=np.uint8) for _ in range(50)]
    path = tmp_path_factory.mktemp("faststart") / "clip.mp4"
    write_video(path, pictures, rate=25, crf=10, muxer_options={"movflags": "faststart"})
    return path.read_bytes()


@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.9])
def test_cut_off_clip_is_an_error_naming_what_was_readable(
    faststart: bytes, tmp_path: Path, fraction: float, caplog: pytest.LogCaptureFixture
) -> None:
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(faststart[: int(len(faststart) * fraction)])
    with VideoFileSource(cut) as source, pytest.raises(InputError) as err:
        for _ in source:
            pass
    found = re.search(r"only (\d+) of about 50 frames could be read; pass --allow-truncated", str(err.value))
    assert found, err.value
    readable = int(found.group(1))
    assert 0 < readable < 50 and abs(readable - 50 * fraction) <= 6
    with caplog.at_level(logging.WARNING):
        _, frames = _read(cut, allow_truncated=True)
    assert len(frames) == readable
    assert [f.time for f in frames] == pytest.approx([i / 25 for i in range(readable)])
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and f"only {readable} of about 50" in warnings[0].getMessage()


def test_complete_clip_with_index_at_the_front_reads_without_a_word(
    faststart: bytes, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clip = tmp_path / "whole.mp4"
    clip.write_bytes(faststart)
    with caplog.at_level(logging.WARNING):
        _, frames = _read(clip)
    assert len(frames) == 50 and not caplog.records


def test_clip_cut_before_its_index_is_damaged_not_a_non_video(tmp_path: Path) -> None:
    clip = write_video(tmp_path / "whole.mp4", marked(frames=20), rate=25)  # index at the end
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(clip.read_bytes()[: clip.stat().st_size // 2])
    with pytest.raises(InputError, match=r"cut\.mp4 is damaged or truncated") as err:
        VideoFileSource(cut)
    assert "not a video" not in str(err.value)


def _audio_only(path: Path) -> Path:
    with av.open(str(path), "w") as out:
        stream = out.add_stream("aac", rate=48000)
        stream.layout = "mono"
        tone = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
        tone.sample_rate, tone.pts = 48000, 0
        out.mux(stream.encode(tone))
        out.mux(stream.encode(None))
    return path


def test_what_is_not_a_video_is_said_so_in_one_sentence(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not a video\n" * 100)
    noise = tmp_path / "noise.mp4"
    noise.write_bytes(np.random.default_rng(1).integers(0, 256, 20_000, dtype=np.uint8).tobytes())
    for path in (text, noise, _audio_only(tmp_path / "song.m4a")):
        with pytest.raises(InputError, match=rf"input {re.escape(str(path))} is not a video \(.+\); pass a"):
            MediaInput(path)
    with pytest.raises(InputNotFoundError, match=r"missing\.mp4 does not exist; check the path"):
        MediaInput(tmp_path / "missing.mp4")
    with pytest.raises(InputError, match="is a folder, not a file"):
        MediaInput(tmp_path)


@pytest.mark.timeout(30)
def test_fifo_and_device_are_refused_at_once(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.mp4"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match=r"pipe\.mp4 is a FIFO, not a file; .* to a file first"):
        MediaInput(fifo)
    with pytest.raises(InputError, match=r"/dev/null is a device, not a file"):
        MediaInput("/dev/null")


def test_every_reader_explains_a_bad_file_the_same_way(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("hello\n" * 100)
    sentence = rf"{re.escape(str(text))} is not a video \(it is text\)"
    with pytest.raises(InputError, match=sentence):
        VideoFileSource(text)
    with pytest.raises(InputError, match=sentence):
        open_reader(CaptureSettings(camera=str(text)))
    with pytest.raises(BackgroundError, match=sentence):
        parse_background(str(text))


# --- frame rate and odd inputs ----------------------------------------------------------------------------


def test_frame_rate_falls_back_from_average_to_guessed_to_base_to_30() -> None:
    def stream(average: Fraction | None, guessed: Fraction | None, base: Fraction | None) -> SimpleNamespace:
        return SimpleNamespace(average_rate=average, guessed_rate=guessed, base_rate=base)

    assert frame_rate(stream(Fraction(24000, 1001), Fraction(24), Fraction(48))) == Fraction(24000, 1001)
    assert frame_rate(stream(None, Fraction(24), Fraction(48))) == 24
    assert frame_rate(stream(None, None, Fraction(48))) == 48
    assert frame_rate(stream(None, None, None)) == 30


@pytest.mark.parametrize(
    ("size", "codec", "pix_fmt", "suffix", "colour"),
    [
        ((1, 1), "libx264", "yuv444p", ".mp4", (200, 100, 50)),
        ((2, 2), "libx264", "yuv420p", ".mp4", (200, 100, 50)),
        ((57, 101), "libx264", "yuv444p", ".mp4", (200, 100, 50)),
        ((48, 64), "libx264", "yuv420p10le", ".mp4", (200, 100, 50)),
        ((48, 64), "libx264", "yuvj420p", ".mp4", (60, 60, 60)),  # full range: 60 stays 60, not 51
        ((48, 64), "ffv1", "gray", ".mkv", (90, 90, 90)),
    ],
    ids=["1x1", "2x2", "101x57", "10-bit", "full-range", "grey"],
)
def test_odd_sizes_depths_ranges_and_grey_decode_exactly(
    tmp_path: Path,
    size: tuple[int, int],
    codec: str,
    pix_fmt: str,
    suffix: str,
    colour: tuple[int, int, int],
) -> None:
    pictures = [np.full((*size, 3), colour, np.uint8)] * 4
    clip = write_video(tmp_path / f"odd{suffix}", pictures, rate=25, codec=codec, pix_fmt=pix_fmt)
    source, frames = _read(clip)
    assert (source.height, source.width) == size
    assert len(frames) == 4
    assert [f.time for f in frames] == [0.0, 0.04, 0.08, 0.12]
    for frame in frames:
        assert frame.rgb.shape == (*size, 3) and frame.rgb.dtype == np.uint8
        assert np.abs(frame.rgb.astype(int) - colour).max() <= 3


def test_variable_frame_rate_with_gaps_keeps_every_timestamp(tmp_path: Path) -> None:
    pts = [0, 1, 2, 30, 31, 80]  # gaps of more than a second, the last frame 2 s after the one before
    clip = write_video(tmp_path / "vfr.mkv", marked(frames=6), pts=pts, time_base=Fraction(1, 25))
    _, frames = _read(clip)
    assert [f.time for f in frames] == pytest.approx([p / 25 for p in pts])


def test_extra_streams_are_skipped_and_the_first_video_stream_is_read(tmp_path: Path) -> None:
    clip = write_video(tmp_path / "extra.mp4", marked(frames=5), rate=25, audio=True, extra_streams=True)
    with av.open(str(clip)) as container:
        kinds = [s.type for s in container.streams]
    assert kinds == ["subtitle", "data", "video", "video", "audio"]
    with VideoFileSource(clip) as source:
        items = list(source)
        copied = {item.stream.type for item in items if not isinstance(item, Frame)}  # while open
    frames = [item for item in items if isinstance(item, Frame)]
    assert (source.width, source.height) == (64, 48)
    assert len(frames) == 5 and all(marker_corners(f.rgb) == ("TL", "TR") for f in frames)
    assert copied == {"audio"}


def test_side_streams_are_read_when_asked_and_the_rest_is_named(tmp_path: Path) -> None:
    path, timecode = tmp_path / "extra.mp4", "00:00:10:00"
    clip = write_video(path, marked(frames=5), rate=25, extra_streams=True, timecode=timecode)
    with VideoFileSource(clip, with_audio=False, with_side_streams=True) as source:
        packets = [(item.stream.index, bytes(item)) for item in source if isinstance(item, av.Packet)]
        assert [s.index for s in source.others] == [0, 1]
        assert source.left_out == [("video stream #3 (h264)", "livebg writes one video stream")]
        assert source.timecode == timecode
    assert packets == [(0, b"\x00\x02hi"), (1, b"\x01\x02")]
