"""livebg/serve/content.py: what an upload is, found by decoding it."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from livebg.serve.content import identify
from livebg.serve.errors import UnsupportedUpload, UploadTooLarge

from .media import make_clip


def picture(path: Path, ext: str, size: tuple[int, int] = (40, 60)) -> Path:
    """An encoded picture written to ``path`` (which has no suffix, like an upload)."""
    rgb = np.random.default_rng(0).integers(0, 256, (*size, 3), dtype=np.uint8)
    ok, data = cv2.imencode(ext, rgb)
    assert ok
    path.write_bytes(data.tobytes())
    return path


@pytest.mark.parametrize(("ext", "suffix"), [(".jpg", ".jpg"), (".png", ".png"), (".webp", ".webp")])
def test_pictures_are_recognised_by_their_content(tmp_path: Path, ext: str, suffix: str) -> None:
    media = identify(picture(tmp_path / "upload", ext), max_pixels=10**6)
    assert (media.kind, media.suffix, media.width, media.height, media.audio) == (
        "image",
        suffix,
        60,
        40,
        False,
    )


def test_a_clip_is_recognised_with_its_sound(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "clip.mp4", size=(32, 48), frames=3, audio=True)
    upload = clip.rename(tmp_path / "upload")
    media = identify(upload, max_pixels=10**6)
    assert (media.kind, media.suffix, media.width, media.height, media.audio) == (
        "clip",
        ".mp4",
        48,
        32,
        True,
    )


@pytest.mark.parametrize(
    "content",
    [
        b"hello, this is text in a file named photo.jpg\n",
        # A playlist would make FFmpeg fetch its entries: refused before any is opened.
        b"#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\nhttp://127.0.0.1:9/x.ts\n#EXT-X-ENDLIST\n",
        b"ffconcat version 1.0\nfile '/etc/passwd'\n",
        b"",
    ],
)
def test_anything_else_is_refused_with_a_sentence(tmp_path: Path, content: bytes) -> None:
    upload = tmp_path / "upload"
    upload.write_bytes(content)
    with pytest.raises(UnsupportedUpload, match=r"^the upload .* send a JPEG, PNG, WebP"):
        identify(upload, max_pixels=10**6)


def test_a_damaged_picture_is_refused(tmp_path: Path) -> None:
    upload = picture(tmp_path / "upload", ".png", size=(200, 200))
    upload.write_bytes(upload.read_bytes()[:300])
    with pytest.raises(UnsupportedUpload, match="the background upload"):
        identify(upload, what="the background upload", max_pixels=10**6)


def test_pictures_over_the_pixel_limit_are_refused(tmp_path: Path) -> None:
    upload = picture(tmp_path / "upload", ".png", size=(40, 60))
    with pytest.raises(UploadTooLarge, match=r"is 60x40 pixels, more than this server's limit"):
        identify(upload, max_pixels=2399)
    assert identify(upload, max_pixels=2400).kind == "image"
