"""What a job does with the model: the same calls a Python program makes.

A picture goes through :meth:`Matter.remove` / :meth:`Matter.replace` / :meth:`Matter.matte` (exactly
``livebg.remove`` and ``livebg.replace``), a clip through :meth:`Matter.process` (exactly
``livebg video``: frames, timestamps and audio kept). ``matter`` is a :class:`livebg.Matter` or
anything with the same methods.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from livebg.serve.options import JobOptions
from livebg.sinks.image_file import ImageFileSink

Progress = Callable[[int, int | None], None]
Work = Callable[[Any, Progress], None]
"""``work(matter, progress)`` makes a job's result; ``progress(done, total)`` may raise to stop it."""


def picture(input: Path, output: Path, options: JobOptions, background: Path | None = None) -> Work:
    """A still: ``output`` (PNG, WebP or JPEG) is the cut-out (RGBA) for a transparent composite, the
    picture on ``background`` (an uploaded file, else ``options.background``) for other composites, the
    matte as grey RGB for ``alpha``, the person's colours for ``foreground``."""

    def run(matter: Any, progress: Progress) -> None:
        progress(0, 1)
        if options.output_type == "composite" and options.transparent:
            image = matter.remove(input)
        elif options.output_type == "composite":
            image = matter.replace(input, str(background) if background else options.background)
        else:
            matte = matter.matte(input)
            if options.output_type == "alpha":
                image = np.repeat(matte.alpha_uint8()[:, :, None], 3, axis=2)
            else:
                image = matte.foreground
        with ImageFileSink(output, alpha=image.shape[2] == 4) as sink:
            sink.write(image)
        progress(1, 1)

    return run


def clip(input: Path, output: Path, options: JobOptions, background: Path | None = None) -> Work:
    """A clip, as ``livebg video INPUT -o OUTPUT`` with the job's options."""

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
