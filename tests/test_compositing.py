"""The compositor: no halos, the model's foreground, alpha output, runtime switching, each `--background`
kind through the file pipeline."""

from __future__ import annotations

import itertools
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
import torch

from livebg.backgrounds import Blur, VideoBackground, parse_background
from livebg.compositing import Compositor
from livebg.errors import UsageError
from livebg.matting.session import Matte
from livebg.sinks.encoding import EncoderOptions
from livebg.tensors import to_uint8
from livebg.transcode import VideoJob, process_video

from .fakes import DiscSession
from .media import write_video
from .test_backgrounds import _COLOURS, make_colour_video

PERSON = np.array([1.0, 0.05, 0.05], np.float32)  # saturated red
SIZE = 256
# The bound on the person's colour in the ring around them, in 8-bit levels of red: mean and worst pixel.
# Measured: mean 0.3-0.6, max 1.5-2.9; a plain blur of the whole frame gives mean 1.7 (strength 10) to
# 25 (strength 100) and max 10 to 115.
LEAK_MEAN, LEAK_MAX = 1.0, 3.0


def _t(array: np.ndarray) -> torch.Tensor:
    """(H, W) or (H, W, C) float array to a (1, C, H, W) tensor."""
    array = np.ascontiguousarray(array, dtype=np.float32)
    return torch.from_numpy(array[..., None] if array.ndim == 2 else array).permute(2, 0, 1)[None]


def _person_scene() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A red head-and-shoulders silhouette with soft (1 px) edges on a blue-green checked background.

    Returns (src, alpha, background, distance in px outside the silhouette); src mixes person and
    background by alpha at the edges, as a camera sees them."""
    silhouette = np.zeros((SIZE, SIZE), np.uint8)
    cv2.circle(silhouette, (128, 100), 45, 255, -1)
    cv2.ellipse(silhouette, (128, 256), (100, 90), 0, 180, 360, 255, -1)
    alpha = cv2.GaussianBlur(silhouette.astype(np.float32) / 255, (0, 0), 1.0)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    background = np.zeros((SIZE, SIZE, 3), np.float32)
    background[..., 1] = 0.3 + 0.3 * ((xx // 16 + yy // 16) % 2)
    background[..., 2] = 0.8
    src = alpha[..., None] * PERSON + (1 - alpha[..., None]) * background
    outside = cv2.distanceTransform((silhouette == 0).astype(np.uint8), cv2.DIST_L2, 5)
    return src, alpha, background, outside


# --- blur: no halo ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("strength", [10, 30, 60, 100])
def test_blur_keeps_the_persons_colour_out_of_the_background(strength: int) -> None:
    src, alpha, background, outside = _person_scene()
    blur = Blur(strength)
    sigma = blur.sigma(SIZE)
    out = Compositor(blur)(_t(src), Matte(_t(alpha)), 0.0)[0].permute(1, 2, 0).numpy()
    # the ring just outside the silhouette, as wide as the blur reaches; the background has no red in it,
    # so any red there is the person's colour smeared out
    ring = (outside > 3) & (outside <= 3 + 3 * sigma)
    leak = out[..., 0][ring] * 255
    assert leak.mean() < LEAK_MEAN and leak.max() < LEAK_MAX, (leak.mean(), leak.max())
    # the background is really blurred: the checks' edges are softened
    far = outside > 3 + 3 * sigma
    assert np.abs(out[..., 1][far] - background[..., 1][far]).mean() > 0.02 * min(1.0, sigma / 3)
    # and neither darkened nor tinted near the person: the blue stays at the background's 0.8 (what
    # moves it at all is the matte's own faint tail, alpha < 0.01, a few pixels out)
    blue = np.abs(out[..., 2][ring] - 0.8) * 255
    assert blue.mean() < 0.5 and blue.max() < 3.0, (blue.mean(), blue.max())
    # a naive blur of the whole frame would fail this test: the person glows into the ring
    naive = cv2.GaussianBlur(src, (0, 0), sigma)
    naive_composite = alpha[..., None] * src + (1 - alpha[..., None]) * naive
    naive_leak = naive_composite[..., 0][ring] * 255
    assert naive_leak.mean() > LEAK_MEAN and naive_leak.max() > LEAK_MAX


def test_blur_of_a_frame_that_is_all_person_is_the_blurred_frame() -> None:
    src = torch.rand(1, 3, 64, 64)
    out = Compositor(Blur(100))(src, Matte(torch.ones(1, 1, 64, 64)), 0.0)
    assert torch.isfinite(out).all()
    picture = Blur(100).render(src, torch.ones(1, 1, 64, 64), 0.0)
    assert torch.isfinite(picture).all()
    assert abs(picture.mean().item() - src.mean().item()) < 0.01


def test_blur_strength_sets_how_blurred() -> None:
    torch.manual_seed(0)
    src = torch.rand(1, 3, 128, 128)
    alpha = torch.zeros(1, 1, 128, 128)
    spread = [Blur(s).render(src, alpha, 0.0).std().item() for s in (5, 20, 60, 100)]
    assert spread == sorted(spread, reverse=True) and spread[0] < src.std().item()


# --- what is composited -----------------------------------------------------------------------------------


def test_foreground_from_the_model_replaces_the_frame_where_given() -> None:
    src = torch.full((1, 3, 8, 8), 0.2)
    fg = torch.full((1, 3, 8, 8), 0.9)  # the model's spill-free person colours
    alpha = torch.zeros(1, 1, 8, 8)
    alpha[..., :4] = 1.0
    alpha[..., 4] = 0.5
    out = Compositor(parse_background("black"))(src, Matte(alpha, fg), 0.0)
    assert torch.allclose(out[..., :4], torch.tensor(0.9))
    assert torch.allclose(out[..., 4], torch.tensor(0.45))  # 0.9 * 0.5 + 0 * 0.5
    assert torch.equal(out[..., 5:], torch.zeros(1, 3, 8, 3))
    # without a foreground the frame itself is the person
    out = Compositor(parse_background("white"))(src, Matte(alpha, None), 0.0)
    assert torch.allclose(out[..., :4], torch.tensor(0.2)) and torch.allclose(out[..., 4], torch.tensor(0.6))


def test_transparent_output_alpha_is_the_matte() -> None:
    torch.manual_seed(1)
    src, fg, alpha = torch.rand(1, 3, 32, 48), torch.rand(1, 3, 32, 48), torch.rand(1, 1, 32, 48)
    compositor = Compositor(parse_background("transparent"))
    assert compositor.channels == 4
    out = compositor(src, Matte(alpha, fg), 0.0)
    assert out.shape == (1, 4, 32, 48)
    rgba = to_uint8(out)
    assert np.array_equal(rgba[..., 3], to_uint8(alpha)[..., 0])
    assert np.array_equal(rgba[..., :3], to_uint8(fg))


def test_alpha_and_foreground_outputs() -> None:
    src, fg, alpha = torch.rand(1, 3, 16, 16), torch.rand(1, 3, 16, 16), torch.rand(1, 1, 16, 16)
    grey = Compositor(parse_background("green"), output="alpha")(src, Matte(alpha, fg), 0.0)
    assert grey.shape == (1, 3, 16, 16) and all(torch.equal(grey[:, c], alpha[:, 0]) for c in range(3))
    # As uint8 (one plane converted, then repeated): the same as converting three planes.
    picture = to_uint8(grey)
    assert picture.shape == (16, 16, 3) and np.array_equal(picture, to_uint8(grey.contiguous()))
    assert Compositor(parse_background("green"), output="foreground")(src, Matte(alpha, fg), 0.0) is fg
    assert Compositor(parse_background("transparent"), output="alpha").channels == 3
    with pytest.raises(UsageError, match="'matte'"):
        Compositor(parse_background("green"), output="matte")


def test_none_passes_the_frame_through_without_a_matte() -> None:
    src = torch.rand(1, 3, 16, 16)
    compositor = Compositor(parse_background("none"))
    assert compositor.channels == 3
    assert compositor(src, None, 0.0) is src
    with pytest.raises(ValueError, match="needs a matte"):
        Compositor(parse_background("green"))(src, None, 0.0)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("spec", ["green", "blur:40", "studio", "transparent"])
def test_output_stays_on_the_frames_device_and_dtype(spec: str, dtype: torch.dtype) -> None:
    src, alpha = torch.rand(2, 3, 40, 60, dtype=dtype), torch.rand(2, 1, 40, 60, dtype=dtype)
    out = Compositor(parse_background(spec))(src, Matte(alpha), 0.0)
    assert out.dtype == dtype and out.device == src.device and out.shape[0] == 2
    assert out.min().item() >= 0 and out.max().item() <= 1 + 1e-6


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("spec", ["green", "blur:40", "studio", "transparent"])
def test_compositing_runs_on_the_gpu_in_half_precision(spec: str) -> None:
    device = torch.device("cuda")
    src, alpha = (
        torch.rand(1, 3, 720, 1280, device=device).half(),
        torch.rand(1, 1, 720, 1280, device=device).half(),
    )
    out = Compositor(parse_background(spec))(src, Matte(alpha), 0.0)
    assert out.device.type == "cuda" and out.dtype == torch.float16 and torch.isfinite(out).all()
    reference = Compositor(parse_background(spec))(src.float().cpu(), Matte(alpha.float().cpu()), 0.0)
    assert (out.float().cpu() - reference).abs().max() < 4 / 255


# --- switching between frames -----------------------------------------------------------------------------


def test_background_can_be_switched_between_frames(tmp_path: Path) -> None:
    src = torch.rand(1, 3, 24, 32)
    alpha = torch.zeros(1, 1, 24, 32)
    matte = Matte(alpha)
    video = VideoBackground(make_colour_video(tmp_path / "v.mp4", list(range(3)), Fraction(1, 10)))
    compositor = Compositor(video)
    first = compositor(src, matte, 0.0)
    assert np.abs(first[0, :, 12, 16].numpy() * 255 - _COLOURS[0]).max() < 4
    compositor.background = parse_background("#ff0000")
    assert video._frames is not None  # closed by the next call, in the compositing thread
    assert torch.equal(compositor(src, matte, 0.04)[0, :, 0, 0], torch.tensor([1.0, 0.0, 0.0]))
    assert video._frames is None  # the replaced background released its frames
    compositor.background = parse_background("blur:40")  # sigma 0.5 px at this height
    weak = compositor(src, matte, 0.08)
    compositor.background = parse_background("blur:100")
    strong = compositor(src, matte, 0.12)
    assert strong.std() < weak.std() < src.std()
    compositor.background = parse_background("transparent")
    assert compositor.channels == 4 and compositor(src, matte, 0.16).shape[1] == 4
    compositor.background = video  # a closed background works again when switched back
    assert compositor.channels == 3
    assert np.abs(compositor(src, matte, 0.11)[0, :, 12, 16].numpy() * 255 - _COLOURS[1]).max() < 4
    compositor.close()
    compositor.close()
    assert video._frames is None


# --- through the file pipeline ----------------------------------------------------------------------------


def _grey_clip(path: Path, frames: int = 6) -> Path:
    """A clip of flat grey (128) frames, 25 fps, 64x96."""
    return write_video(path, [np.full((64, 96, 3), 128, np.uint8)] * frames, rate=25)


def _decode(path: Path, fmt: str = "rgb24") -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [f.to_ndarray(format=fmt) for f in container.decode(video=0)]


@pytest.mark.parametrize(
    ("spec", "corner"),
    [
        ("green", (0, 177, 64)),
        ("#3366cc", (51, 102, 204)),
        ("200,100,50", (200, 100, 50)),
        ("blur:30", (128, 128, 128)),  # a flat frame blurs to itself
        ("studio", None),
        ("image", (40, 90, 200)),
        ("video", None),
    ],
)
def test_each_background_kind_through_process_video(spec: str, corner: tuple | None, tmp_path: Path) -> None:
    clip = _grey_clip(tmp_path / "in.mp4")
    if spec == "image":
        spec = str(tmp_path / "flat.png")
        cv2.imwrite(spec, np.full((30, 40, 3), (200, 90, 40), np.uint8))  # BGR
    if spec == "video":
        spec = str(make_colour_video(tmp_path / "bg.mp4", list(range(6)), Fraction(1, 10)))
    out = tmp_path / "out.mkv"
    result = process_video(
        VideoJob(str(clip), out, background=spec, encoder=_lossless()), session=DiscSession()
    )
    frames = _decode(out)
    assert result.frames == len(frames) == 6
    for i, frame in enumerate(frames):
        assert np.abs(frame[32, 48].astype(int) - 128).max() <= 3  # the person (the disc) is the frame
        if corner is not None:
            assert np.abs(frame[2, 2].astype(int) - corner).max() <= 4, (i, frame[2, 2])
        elif "bg.mp4" in spec:  # 25 fps output over a 10 fps background: frame i shows int(i * 10 / 25)
            assert np.abs(frame[2, 2].astype(int) - _COLOURS[int(i * 10 / 25)]).max() <= 6, (i, frame[2, 2])
    if spec == "studio":
        studio = parse_background("studio").render(torch.zeros(1, 3, 64, 96), torch.zeros(1, 1, 64, 96), 0.0)
        assert np.abs(frames[0][2, 2].astype(int) - to_uint8(studio)[2, 2]).max() <= 4


def test_transparent_and_none_through_process_video(tmp_path: Path) -> None:
    clip = _grey_clip(tmp_path / "in.mp4")
    out = tmp_path / "out.mov"
    process_video(VideoJob(str(clip), out, background="transparent"), session=DiscSession())
    rgba = _decode(out, "rgba")
    assert len(rgba) == 6 and rgba[0][32, 48, 3] == 255 and rgba[0][2, 2, 3] == 0
    session = DiscSession()
    out = tmp_path / "none.mkv"
    process_video(VideoJob(str(clip), out, background="none", encoder=_lossless()), session=session)
    assert all(np.abs(f.astype(int) - 128).max() <= 1 for f in _decode(out))


def _lossless() -> EncoderOptions:
    return EncoderOptions(crf=0, preset="ultrafast", pixel_format="yuv444p")


# --- `livebg video` with the real network -----------------------------------------------------------------


@pytest.fixture(scope="module")
def person_clip(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Path:
    """The first 8 frames of a real talking-head clip (man, plain pale wall), scaled to 192x192."""
    with av.open(str(data_dir / "talking_head_man_plain_wall_480.mp4")) as source:
        frames = [f.to_ndarray(format="rgb24") for f in itertools.islice(source.decode(video=0), 8)]
    pictures = [cv2.resize(rgb, (192, 192), interpolation=cv2.INTER_AREA) for rgb in frames]
    return write_video(tmp_path_factory.mktemp("clip") / "person.mp4", pictures, rate=30)


@pytest.mark.parametrize(
    "spec", ["green", "#3366cc", "blur:60", "office", "retrowave", "transparent", "none"]
)
def test_livebg_video_with_each_background_kind(
    spec: str, person_clip: Path, rvm_checkpoint: Path, data_dir: Path, tmp_path: Path
) -> None:
    from livebg.cli import main

    if spec == "retrowave":
        spec = str(data_dir / "bg_retrowave_animated.webm")
    out = tmp_path / ("out.mov" if spec == "transparent" else "out.mkv")
    args = ["video", str(person_clip), "-o", str(out), "-b", spec, "--no-progress", "--crf", "0"]
    args += ["--weights", str(rvm_checkpoint), "--device", "cpu"]
    if spec != "transparent":
        args += ["--pix-fmt", "yuv444p"]
    assert main(args) == 0
    source = _decode(person_clip)
    frames = _decode(out, "rgba" if spec == "transparent" else "rgb24")
    assert len(frames) == len(source) == 8
    last, src = frames[-1].astype(int), source[-1].astype(int)
    face = (slice(70, 110), slice(76, 116))  # the man's face, in the middle of the frame
    corner = (slice(0, 16), slice(0, 16))  # the wall, top left
    if spec == "transparent":
        assert last[(*face, 3)].mean() > 240 and last[(*corner, 3)].mean() < 15
        return
    if spec == "none":
        assert (
            max(np.abs(f.astype(int) - s.astype(int)).max() for f, s in zip(frames, source, strict=True)) <= 1
        )
        return
    # the person is kept, and the wall is replaced by the background
    assert np.abs(last[face] - src[face]).mean() < 6
    wall = last[corner].reshape(-1, 3).mean(axis=0)
    if spec == "green":
        assert np.abs(wall - (0, 177, 64)).max() < 6, wall
    elif spec == "#3366cc":
        assert np.abs(wall - (51, 102, 204)).max() < 6, wall
    elif spec == "blur:60":  # the blurred wall is still the wall's own colour
        assert np.abs(wall - src[corner].reshape(-1, 3).mean(axis=0)).max() < 6, wall
    else:
        background = parse_background(spec)
        expected = to_uint8(
            background.render(torch.zeros(1, 3, 192, 192), torch.zeros(1, 1, 192, 192), 7 / 30)
        )
        background.close()
        assert np.abs(wall - expected[corner].reshape(-1, 3).mean(axis=0)).max() < 6, wall
