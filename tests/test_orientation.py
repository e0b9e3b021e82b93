"""Which way up pictures come out (livebg/sources/orientation.py): as a player or photo viewer shows
them, before anything after the source sees them."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from livebg.frames import Frame
from livebg.sources.orientation import EXIF_ORIENTATIONS, Upright
from livebg.sources.video_file import VideoFileSource

from .media import marked, marker_corners, write_jpeg, write_video


def _read(path: Path) -> tuple[VideoFileSource, list[Frame]]:
    with VideoFileSource(path, with_audio=False) as source:
        return source, [item for item in source if isinstance(item, Frame)]


# What each EXIF orientation asks a viewer to do with the stored pixels (TIFF 6.0), in numpy terms.
_EXIF_AS_NUMPY = {
    1: lambda a: a,
    2: np.fliplr,
    3: lambda a: np.rot90(a, 2),
    4: np.flipud,
    5: lambda a: a.transpose(1, 0, 2),
    6: lambda a: np.rot90(a, -1),
    7: lambda a: np.rot90(a, 2).transpose(1, 0, 2),
    8: lambda a: np.rot90(a, 1),
}


@pytest.mark.parametrize("value", range(1, 9))
def test_upright_does_what_each_exif_orientation_asks(value: int) -> None:
    stored = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    upright = EXIF_ORIENTATIONS[value]
    shown = upright.apply(stored)
    assert np.array_equal(shown, _EXIF_AS_NUMPY[value](stored))
    assert upright.size(3, 2) == (shown.shape[1], shown.shape[0])
    assert Upright().apply(stored) is stored  # upright already: no copy


# --- through the file source ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rotation", "hflip", "size", "red", "green"),
    [
        (0, False, (64, 48), "TL", "TR"),
        (90, False, (48, 64), "BL", "TL"),  # a player turns it a quarter counter-clockwise
        (-90, False, (48, 64), "TR", "BR"),  # a phone held upright: a quarter clockwise
        (180, False, (64, 48), "BR", "BL"),
        (90, True, (48, 64), "BR", "TR"),  # turned, then mirrored
    ],
)
def test_display_matrix_turns_frames_upright_before_anyone_sees_them(
    tmp_path: Path, rotation: int, hflip: bool, size: tuple[int, int], red: str, green: str
) -> None:
    clip = write_video(tmp_path / "phone.mp4", marked(), rate=25, rotation=rotation, hflip=hflip)
    source, frames = _read(clip)
    assert (source.width, source.height) == size
    assert len(frames) == 3
    for frame in frames:
        assert frame.rgb.shape == (size[1], size[0], 3)
        assert marker_corners(frame.rgb) == (red, green)
    assert [f.time for f in frames] == [0.0, 0.04, 0.08]


@pytest.mark.parametrize(
    ("orientation", "size", "red", "green"),
    [
        (1, (64, 48), "TL", "TR"),
        (3, (64, 48), "BR", "BL"),
        (6, (48, 64), "TR", "BR"),  # a phone photo taken upright
        (8, (48, 64), "BL", "TL"),
        (2, (64, 48), "TR", "TL"),  # mirrored
        (5, (48, 64), "TL", "BL"),  # mirrored and turned (transposed)
    ],
)
def test_exif_orientation_of_a_still_is_applied(
    tmp_path: Path, orientation: int, size: tuple[int, int], red: str, green: str
) -> None:
    still = write_jpeg(tmp_path / "photo.jpg", marked(frames=1)[0], orientation=orientation)
    source, frames = _read(still)
    assert (source.width, source.height) == size
    assert len(frames) == 1 and frames[0].rgb.shape == (size[1], size[0], 3)
    assert marker_corners(frames[0].rgb) == (red, green)


def test_rotate_tag_of_older_tools_is_applied_clockwise(tmp_path: Path) -> None:
    clip = tmp_path / "tagged.mkv"
    with av.open(str(clip), "w") as out:
        stream = out.add_stream("libx264", rate=25, options={"preset": "ultrafast", "crf": "0"})
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv444p"
        stream.metadata["rotate"] = "90"
        for i, picture in enumerate(marked()):
            frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
            frame.pts = i
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    source, frames = _read(clip)
    assert (source.width, source.height) == (48, 64)
    assert marker_corners(frames[0].rgb) == ("TR", "BR")
