"""`--background`: parsing, bundled pictures, cover-fit, video loops at their own frame rate."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from livebg.backgrounds import (
    BUNDLED_DIR,
    Background,
    Blur,
    ImageBackground,
    PassThrough,
    SolidColour,
    Transparent,
    VideoBackground,
    bundled_backgrounds,
    cover_fit,
    parse_background,
)
from livebg.errors import BackgroundError, LivebgError

from .media import write_video

# Far-apart colours survive H.264 at a high quality within a few levels: frame i is told by its colour.
_COLOURS = [(230, 20, 20), (20, 230, 20), (20, 20, 230), (230, 230, 20), (230, 20, 230), (20, 230, 230)]


def _frame(height: int = 48, width: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.zeros(1, 3, height, width), torch.zeros(1, 1, height, width)


def make_colour_video(
    path: Path, pts: list[int], time_base: Fraction, size: tuple[int, int] = (48, 64)
) -> Path:
    """An H.264 clip whose frame i is _COLOURS[i], at the given timestamps."""
    pictures = [np.full((*size, 3), _COLOURS[i], np.uint8) for i in range(len(pts))]
    return write_video(path, pictures, rate=1 / time_base, pts=pts, time_base=time_base, crf=1)


def _shown_index(picture: torch.Tensor) -> int:
    """Which _COLOURS entry the centre of a rendered frame is."""
    h, w = picture.shape[-2:]
    rgb = picture[0, :, h // 2, w // 2].mul(255).numpy()
    return int(np.argmin([np.abs(rgb - c).sum() for c in _COLOURS]))


# --- parsing --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "rgb", "name"),
    [
        ("green", (0, 177, 64), "green"),
        ("GREEN", (0, 177, 64), "green"),
        ("#00b140", (0, 177, 64), "#00b140"),
        ("#FF8000", (255, 128, 0), "#ff8000"),
        ("0,177,64", (0, 177, 64), "#00b140"),
        (" 10, 20 ,30 ", (10, 20, 30), "#0a141e"),
        ("white", (255, 255, 255), "white"),
    ],
)
def test_colours_parse_to_rgb(spec: str, rgb: tuple[int, int, int], name: str) -> None:
    bg = parse_background(spec)
    assert isinstance(bg, SolidColour) and bg.rgb == rgb and bg.name == name
    assert bg.needs_matte and not bg.transparent
    src, alpha = _frame(6, 8)
    picture = bg.render(src, alpha, 0.0)
    assert picture.shape == (1, 3, 6, 8)
    assert torch.equal(picture[0, :, 3, 4], torch.tensor(rgb, dtype=torch.float32) / 255)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("#00b14", r"'#00b14' is not #rrggbb"),
        ("#gg0000", r"is not #rrggbb"),
        ("300,0,0", r"'300,0,0' is not r,g,b with three whole numbers 0-255"),
        ("1,2", r"is not r,g,b"),
        ("blur:0", r"blur strength '0' is not a whole number from 1 to 100"),
        ("blur:101", r"from 1 to 100"),
        ("blur:soft", r"'soft'"),
        ("", r"empty"),
    ],
)
def test_malformed_values_are_errors_naming_the_value(spec: str, message: str) -> None:
    with pytest.raises(BackgroundError, match=message):
        parse_background(spec)


def test_unknown_name_lists_every_accepted_form_and_bundled_name() -> None:
    with pytest.raises(BackgroundError) as err:
        parse_background("ofice")
    text = str(err.value)
    assert "'ofice'" in text
    for form in (
        "path",
        "green",
        "#rrggbb",
        "r,g,b",
        "blur:1-100",
        "transparent",
        "none",
        "office",
        "nature",
    ):
        assert form in text, form
    assert isinstance(err.value, LivebgError) and isinstance(err.value, ValueError)


def test_missing_and_unreadable_files_name_the_path(tmp_path: Path) -> None:
    with pytest.raises(BackgroundError, match=r"missing\.jpg does not exist"):
        parse_background(str(tmp_path / "missing.jpg"))
    fake = tmp_path / "fake.jpg"
    fake.write_text("not a picture")
    with pytest.raises(BackgroundError, match=r"cannot read .*fake\.jpg"):
        parse_background(str(fake))
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    with pytest.raises(BackgroundError, match=r"notes\.txt"):
        parse_background(str(notes))
    with pytest.raises(BackgroundError, match=r"not a file"):
        parse_background(str(tmp_path))


def test_keywords() -> None:
    none = parse_background("none")
    assert isinstance(none, PassThrough) and not none.needs_matte and not none.transparent
    transparent = parse_background("Transparent")
    assert isinstance(transparent, Transparent) and transparent.transparent and transparent.needs_matte
    src, alpha = _frame()
    assert none.render(src, alpha, 0.0) is None and transparent.render(src, alpha, 0.0) is None
    blur = parse_background("blur")
    assert isinstance(blur, Blur) and blur.strength == 50 and blur.name == "blur:50"
    assert parse_background("blur:7").name == "blur:7"
    # strength sets the radius relative to the frame: 36 px at 720p for 100, proportional below
    assert Blur(100).sigma(720) == pytest.approx(36.0)
    assert Blur(25).sigma(720) == pytest.approx(9.0)
    assert Blur(25).sigma(1440) == pytest.approx(18.0)
    for bg in (none, transparent, blur):
        assert isinstance(bg, Background)


# --- bundled backgrounds ----------------------------------------------------------------------------------


def test_bundled_backgrounds_are_six_or_more_1080p_pictures_with_readme_lines() -> None:
    names = bundled_backgrounds()
    assert names == sorted(names)
    assert {"office", "bookshelf", "gradient", "studio", "nature", "brand"} <= set(names)
    readme = (BUNDLED_DIR / "README.md").read_text()
    for name in names:
        path = next(BUNDLED_DIR.glob(f"{name}.*"))
        image = cv2.imread(str(path))
        assert image.shape == (1080, 1920, 3), name
        assert path.stat().st_size < 400 * 1024, name
        assert f"`{name}`" in readme, name
        # pleasant, not blank: some variation, neither black nor blown out on average
        assert 20 < image.mean() < 235 and image.std() > 5, name


def test_bundled_name_renders_cover_fitted(monkeypatch: pytest.MonkeyPatch) -> None:
    bg = parse_background("Office")
    assert isinstance(bg, ImageBackground) and bg.name == "office"
    src, alpha = _frame(90, 160)
    picture = bg.render(src, alpha, 0.0)
    expected = cv2.resize(bg.rgb, (160, 90), interpolation=cv2.INTER_AREA)  # same 16:9 aspect: no crop
    assert np.abs(picture[0].permute(1, 2, 0).mul(255).numpy() - expected).max() < 1.0


def test_backgrounds_dir_can_be_overridden(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cv2.imwrite(str(tmp_path / "beach.png"), np.full((20, 30, 3), (255, 0, 0), np.uint8))  # BGR: blue
    (tmp_path / "notes.md").write_text("not a background")
    monkeypatch.setenv("LIVEBG_BACKGROUNDS_DIR", str(tmp_path))
    assert bundled_backgrounds() == ["beach"]
    src, alpha = _frame(10, 10)
    assert parse_background("beach").render(src, alpha, 0.0)[0, :, 5, 5].tolist() == [0.0, 0.0, 1.0]


# --- cover fit --------------------------------------------------------------------------------------------


def _circle_extent(mask: np.ndarray) -> tuple[int, int]:
    ys, xs = np.nonzero(mask)
    return int(ys.max() - ys.min() + 1), int(xs.max() - xs.min() + 1)


def test_cover_fit_keeps_the_aspect_ratio_and_centres(tmp_path: Path) -> None:
    image = np.zeros((500, 1000, 3), np.uint8)
    cv2.circle(image, (500, 250), 150, (255, 255, 255), -1)
    cv2.circle(image, (60, 250), 30, (255, 0, 0), -1)  # far left: cropped away for a portrait frame
    path = tmp_path / "wide.png"
    cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    bg = parse_background(str(path))
    src, alpha = _frame(640, 480)
    picture = (bg.render(src, alpha, 0.0)[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    assert picture.shape == (640, 480, 3)
    height, width = _circle_extent(picture[..., 1] > 128)
    # scaled by 640/500 = 1.28: a round circle of diameter 301 * 1.28, not stretched to the frame
    assert abs(height - width) <= 2 and abs(height - 301 * 1.28) <= 3, (height, width)
    ys, xs = np.nonzero(picture[..., 1] > 128)
    # centred, within the half-pixel of a whole-pixel crop (the circle itself is 0.5 px off centre)
    assert abs(ys.mean() - 319.5) < 2 and abs(xs.mean() - 239.5) < 2
    assert (picture[..., 0] > 128).sum() == (picture[..., 1] > 128).sum()  # the red circle is gone
    # a landscape frame of another aspect: still round
    src, alpha = _frame(360, 1000)
    picture = bg.render(src, alpha, 0.0)[0, 1].numpy()
    height, width = _circle_extent(picture > 0.5)
    assert abs(height - width) <= 2 and abs(height - 301) <= 3, (height, width)


def test_cover_fit_of_a_tall_image_crops_top_and_bottom() -> None:
    image = np.zeros((300, 100, 3), np.uint8)
    image[:100] = 255  # the top third is white
    fitted = cover_fit(image, 50, 100)
    assert fitted.shape == (50, 100, 3)
    assert fitted.max() == 0  # the middle 100x50 holds none of the top third


def test_image_is_fitted_once_per_size_and_device() -> None:
    bg = parse_background("studio")
    src, alpha = _frame(72, 128)
    first = bg.render(src, alpha, 0.0)
    assert bg.render(src, alpha, 1.0).data_ptr() == first.data_ptr()  # cached, not resized again
    doubled = bg.render(src.double(), alpha.double(), 0.0)
    assert doubled.dtype == torch.float64
    batch = bg.render(torch.zeros(3, 3, 72, 128), torch.zeros(3, 1, 72, 128), 0.0)
    assert batch.shape == (3, 3, 72, 128)
    bg.close()
    bg.close()
    assert torch.equal(bg.render(src, alpha, 0.0), first)  # renders again after close


# --- video backgrounds ------------------------------------------------------------------------------------


@pytest.mark.parametrize("cache_bytes", [256 * 2**20, 0], ids=["cached", "sequential"])
def test_video_background_follows_its_own_frame_rate_and_loops(tmp_path: Path, cache_bytes: int) -> None:
    # 6 frames at 10 fps: frame i is shown from i/10 s to (i+1)/10 s, the loop is 0.6 s long
    path = make_colour_video(tmp_path / "loop.mp4", pts=list(range(6)), time_base=Fraction(1, 10))
    bg = VideoBackground(path, cache_bytes=cache_bytes)
    src, alpha = _frame(30, 50)  # another size and aspect than the video's
    # output times at 30 fps (3 output frames per background frame), then across loops, and back
    times = [i / 30 + 0.001 for i in range(40)] + [0.25, 0.05, 1.99, -0.05]
    expected = [int(t * 10) % 6 for t in times[:40]] + [2, 0, 1, 5]
    shown = []
    for t in times:
        picture = bg.render(src, alpha, t)
        assert picture.shape == (1, 3, 30, 50)
        shown.append(_shown_index(picture))
        assert bg.frame_index == shown[-1]
    assert shown == expected
    assert bg.period == pytest.approx(0.6)
    bg.close()
    bg.close()


def test_video_background_uses_timestamps_not_frame_counts(tmp_path: Path) -> None:
    # variable frame rate: frames at 0, 0.1, 0.3, 0.6, 1.0 and 1.1 s (time base 1/10)
    path = make_colour_video(tmp_path / "vfr.mkv", pts=[0, 1, 3, 6, 10, 11], time_base=Fraction(1, 10))
    bg = parse_background(str(path))
    assert isinstance(bg, VideoBackground)
    src, alpha = _frame()
    shown = [_shown_index(bg.render(src, alpha, t)) for t in (0.05, 0.15, 0.29, 0.35, 0.95, 1.05, 1.15)]
    assert shown == [0, 1, 1, 2, 3, 4, 5]


def test_short_video_is_cached_as_uint8_at_the_output_size(tmp_path: Path) -> None:
    path = make_colour_video(
        tmp_path / "loop.mp4", pts=list(range(6)), time_base=Fraction(1, 10), size=(96, 128)
    )
    bg = VideoBackground(path)
    src, alpha = _frame(24, 32)
    bg.render(src, alpha, 0.0)
    assert bg._frames is not None and bg._frames.dtype == torch.uint8
    assert tuple(bg._frames.shape) == (6, 3, 24, 32)
    tight = VideoBackground(path, cache_bytes=5 * 24 * 32 * 3)  # one frame short of the whole loop
    assert _shown_index(tight.render(src, alpha, 0.55)) == 5
    assert tight._frames is None


def test_real_animated_background_loops_at_24_fps(data_dir: Path) -> None:
    bg = parse_background(str(data_dir / "bg_retrowave_animated.webm"))
    src, alpha = _frame(72, 128)
    first = bg.render(src, alpha, 0.0).clone()
    bg.render(src, alpha, 1.01)
    assert bg.frame_index == 24  # 24 fps, its own rate
    assert bg.period == pytest.approx(56 / 24, abs=0.002)
    again = bg.render(src, alpha, bg.period + 0.001)
    assert bg.frame_index == 0 and torch.equal(again, first)
    bg.close()
