"""What a job does with the model: exactly ``livebg video INPUT -o OUTPUT`` with the job's options,
through :meth:`livebg.Matter.process`.

A picture in gives a picture out, read and matted as :func:`livebg.remove` reads and mattes it (the
same reader, the same passes of a recurrent model); a clip keeps its frames, timestamps and audio.
``matter`` is a :class:`livebg.Matter` or anything with its ``process`` method.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from livebg.serve.options import JobOptions

Progress = Callable[[int, int | None], None]
Work = Callable[[Any, Progress], None]
"""``work(matter, progress)`` makes a job's result; ``progress(done, total)`` may raise to stop it."""


def process(input: Path, output: Path, options: JobOptions, background: Path | None = None) -> Work:
    """The work that turns ``input`` into ``output`` (whose suffix picks the container) on
    ``background`` (an uploaded file) or else ``options.background``."""

    def run(matter: Any, progress: Progress) -> None:
        matter.process(
            input,
            output,
            background=str(background) if background else options.background,
            output_type=options.output_type,
            audio=options.audio,
            crf=options.crf,
            preset=options.preset,
            progress=progress,
        )

    return run
