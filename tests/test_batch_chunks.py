"""One clip in chunks, joined without re-encoding: the same frames, timestamps and audio packets as
the uncut run, and a warm-up that brings RVM's matte after a join back to the uncut one."""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import pytest

from livebg.batch.chunks import chunk_folder, plan_spans, process_chunked
from livebg.batch.inputs import Task
from livebg.errors import UsageError
from tests.fakes import DiscMatter
from tests.media import make_clip, probe, read_frames, write_video


def test_chunks_hold_every_frame_once_and_warm_up_before_their_start(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "c.mp4", frames=30, rate=Fraction(10))  # 3 s, one keyframe
    pieces = plan_spans(str(clip), 1.0, warmup=4)
    spans = [piece.span for piece in pieces]
    assert [(s.start, s.end) for s in spans] == [(-math.inf, 1.0), (1.0, 2.0), (2.0, None)]
    assert [s.warmup_from for s in spans] == [None, 0.6, 1.6]
    assert [piece.offset for piece in pieces] == [0, 1, 2]  # exact seconds of each first frame
    assert len(plan_spans(str(clip), 10.0)) == 1


@pytest.mark.parametrize("suffix", [".mp4", ".mkv"])
def test_a_chunked_clip_has_the_uncut_clips_frames_timestamps_and_audio(suffix: str, tmp_path: Path) -> None:
    # Variable frame rate, so that a timestamp off by one tick would show.
    stamps = [0, 1, 2, 4, 5, 7, 8, 9, 11, 12, 13, 15, 16, 18, 19, 20]
    clip = make_clip(tmp_path / "vfr.mp4", frames=16, pts=stamps, time_base=Fraction(1, 24), audio=True)
    matter = DiscMatter()
    matter.process(clip, tmp_path / f"whole{suffix}", alpha_output=tmp_path / f"whole_alpha{suffix}")
    task = Task(str(clip), tmp_path / f"cut{suffix}", "cut", (("alpha", tmp_path / f"cut_alpha{suffix}"),))
    result = process_chunked(matter, task, {}, 0.25, warmup=2)
    assert result.frames == 16
    whole, joined = probe(tmp_path / f"whole{suffix}"), probe(tmp_path / f"cut{suffix}")
    assert joined.frames == whole.frames == 16
    assert joined.times == whole.times and joined.audio_packets == whole.audio_packets
    assert probe(tmp_path / f"cut_alpha{suffix}").times == probe(tmp_path / f"whole_alpha{suffix}").times
    assert not chunk_folder(task).exists()


def test_what_chunks_cannot_do_is_refused(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "c.mp4", frames=4)
    with pytest.raises(UsageError, match="--chunk-seconds cannot be combined with --start"):
        process_chunked(DiscMatter(), Task(str(clip), tmp_path / "o.mp4", "o"), {"start": 1.0}, 1.0)
    with pytest.raises(UsageError, match="is a PNG folder; give a file"):
        process_chunked(DiscMatter(), Task(str(clip), tmp_path / "frames", "o"), {}, 1.0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.mp4"]


def test_with_a_warm_up_the_matte_after_a_join_is_the_uncut_one(
    data_dir: Path, rvm_checkpoint: Path, tmp_path: Path
) -> None:
    from livebg import Matter

    frames = read_frames(data_dir / "talking_head_man_plain_wall_480.mp4")[:8]
    small = [cv2.resize(f, (64, 64), interpolation=cv2.INTER_AREA) for f in frames]
    clip = write_video(tmp_path / "talk.mp4", small, rate=30)
    matter = Matter(weights=rvm_checkpoint, device="cpu", backend="torch")
    options = {"output_type": "alpha", "crf": 0, "pix_fmt": "yuv444p"}  # lossless, to see the model only
    matter.process(clip, tmp_path / "whole.mp4", **options)
    whole = np.stack(read_frames(tmp_path / "whole.mp4", "gray")).astype(int)
    errors = {}
    for warmup in (0, 4):
        task = Task(str(clip), tmp_path / f"w{warmup}.mp4", "w")
        process_chunked(matter, task, options, 4 / 30, warmup=warmup)  # one join, before frame 4
        joined = np.stack(read_frames(task.output, "gray")).astype(int)
        assert np.array_equal(joined[:4], whole[:4])  # the first chunk is the uncut run itself
        errors[warmup] = np.abs(joined[4:] - whole[4:]).mean()
    # A cold start at the join is off; warmed up on the 4 frames before it, much closer to the uncut run.
    assert errors[4] < errors[0] / 2, errors
