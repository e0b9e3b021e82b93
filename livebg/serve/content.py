"""What an upload is, found by decoding it: never from its name or the type the client claims.

FFmpeg is only allowed the demuxers of ordinary pictures and clips, and only local files: a playlist or
a concat list (which would make it fetch URLs or read other files) is refused like any other unknown
content.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import av
import av.error

from livebg.serve.errors import UnsupportedUpload, UploadTooLarge

# FFmpeg demuxer name -> the suffix the file is stored under.
IMAGE_FORMATS = {
    "jpeg_pipe": ".jpg",
    "png_pipe": ".png",
    "webp_pipe": ".webp",
    "bmp_pipe": ".bmp",
    "tiff_pipe": ".tif",
}
CLIP_FORMATS = {
    "mov,mp4,m4a,3gp,3g2,mj2": ".mp4",
    "matroska,webm": ".mkv",
    "avi": ".avi",
    "gif": ".gif",
    "mpegts": ".ts",
    "mpeg": ".mpg",
}
_DEMUXERS = ",".join([*IMAGE_FORMATS, "mov", "matroska", "avi", "gif", "mpegts", "mpeg"])
OPEN_OPTIONS = {"format_whitelist": _DEMUXERS, "protocol_whitelist": "file"}
ACCEPTED = "a JPEG, PNG, WebP, BMP or TIFF picture, or an MP4, MOV, WebM, MKV, AVI or GIF clip"


@dataclass(frozen=True)
class Media:
    """An upload that decodes. ``kind``: ``image`` or ``clip``; ``suffix``: the extension it is stored
    under; ``width``/``height`` in pixels of its (first) picture; ``audio``: whether it has sound."""

    kind: str
    suffix: str
    width: int
    height: int
    audio: bool


def identify(path: Path, *, what: str = "the upload", max_pixels: int) -> Media:
    """Decode the first picture of ``path``. Raises :class:`UnsupportedUpload` when it is neither a
    picture nor a clip that livebg reads (``what`` names it in the message), :class:`UploadTooLarge`
    when its picture has more than ``max_pixels`` pixels."""
    try:
        container = av.open(str(path), mode="r", options=OPEN_OPTIONS)
    except (av.error.FFmpegError, UnicodeDecodeError):
        raise UnsupportedUpload(
            f"{what} is neither a picture nor a video that livebg reads; send {ACCEPTED}"
        ) from None
    with container:
        name = container.format.name
        suffix = IMAGE_FORMATS.get(name) or CLIP_FORMATS.get(name)
        if suffix is None or not container.streams.video:
            raise UnsupportedUpload(f"{what} holds no picture or video; send {ACCEPTED}")
        stream = container.streams.video[0]
        try:
            frame = next(container.decode(stream), None)
        except (av.error.FFmpegError, ValueError):
            frame = None
        if frame is None:
            raise UnsupportedUpload(f"{what} is damaged: its first picture does not decode; send {ACCEPTED}")
        if frame.width * frame.height > max_pixels:
            raise UploadTooLarge(
                f"{what} is {frame.width}x{frame.height} pixels, more than this server's limit of "
                f"{max_pixels / 1e6:.0f} megapixels; send a smaller picture or clip"
            )
        kind = "image" if name in IMAGE_FORMATS else "clip"
        return Media(kind, suffix, frame.width, frame.height, bool(container.streams.audio))
