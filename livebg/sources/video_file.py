"""Reading a video file or stream: decoded RGB frames in order, upright, with the container's exact
timestamps, and the audio packets untouched so they can be copied to the output. Opening, decoding
and every failure's explanation are :mod:`livebg.sources.media`'s."""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av

from livebg.frames import Frame
from livebg.sources.media import MediaInput, Picture


class VideoFileSource:
    """A video file, still image or stream opened for decoding, used as a context manager.

    Iterating yields, in container order, :class:`Frame` objects for the first video stream (turned
    upright as a player shows them) and raw ``av.Packet`` objects of every audio stream when
    ``with_audio`` and every subtitle and data stream when ``with_side_streams`` (for copying without
    re-encoding; ``others``, ``left_out`` and ``timecode`` are :class:`MediaInput`'s). File sources
    never drop a frame. A file that ends short of what its header promised (a cut-off download) raises
    :class:`InputError` at the end naming how many frames were readable, unless ``allow_truncated``:
    then one warning is logged and the readable frames are all there is. ``close()`` is idempotent.
    """

    def __init__(
        self,
        source: str | Path,
        *,
        with_audio: bool = True,
        with_side_streams: bool = False,
        allow_truncated: bool = False,
    ) -> None:
        self.source = str(source)
        self._media = MediaInput(
            self.source,
            label="input",
            audio=with_audio,
            side_streams=with_side_streams,
            allow_truncated=allow_truncated,
        )
        self.video = self._media.video
        self.audio = self._media.audio
        self.others, self.left_out = self._media.others, self._media.left_out
        self.timecode = self._media.timecode

    @property
    def width(self) -> int:
        """Width of the frames as shown (after turning upright), in pixels."""
        return self._media.width

    @property
    def height(self) -> int:
        return self._media.height

    @property
    def rate(self) -> Fraction:
        """The stream's frame rate as an exact fraction (e.g. 24000/1001)."""
        return self._media.rate

    @property
    def time_base(self) -> Fraction:
        return self._media.time_base

    @property
    def frame_count(self) -> int | None:
        """Frame count from the container header (may differ from what decodes), or None."""
        return self._media.frame_count

    def __iter__(self) -> Iterator[Frame | av.Packet]:
        for item in self._media.read():
            if isinstance(item, Picture):
                yield Frame(
                    rgb=item.rgb(), index=item.index, time=item.time, pts=item.pts, time_base=self.time_base
                )
            else:
                yield item

    def seek(self, seconds: float) -> None:
        """Start the iteration at the video keyframe at or before ``seconds`` (the timeline of
        :attr:`Frame.time`, from the stream's start); the other packets follow from the same file position.
        Before iterating only."""
        self._media.seek(seconds)

    def close(self) -> None:
        self._media.close()

    def __enter__(self) -> VideoFileSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
