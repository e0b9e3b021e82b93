"""One batch from start to end: inputs expanded, outputs planned, the manifest read, the tasks run here
or on Ray. What ``livebg video`` with several inputs and :func:`livebg.process` with a list, folder,
glob or ``@list`` call."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from livebg.backgrounds import parse_background
from livebg.batch.inputs import Task, expand, is_batch, plan
from livebg.batch.manifest import Manifest, digest
from livebg.batch.runner import BatchResult, OnTask, Processor, run_local
from livebg.config import ModelConfig
from livebg.errors import OutputError, UsageError
from livebg.sinks.safe_write import make_folders, remove_empty

_UNSHAPING = frozenset({"device", "offline", "batch"})
"""Options that do not change what an output holds (beyond rounding): not in the manifest's digest."""


def process_batch(
    inputs: str | Path | Sequence[str | Path],
    output: str | Path,
    *,
    recursive: bool = False,
    video_format: str | None = None,
    image_format: str | None = None,
    suffix: str = "",
    alpha_output: str | Path | None = None,
    foreground_output: str | Path | None = None,
    overwrite: bool = False,
    chunk_seconds: float | None = None,
    warmup: int | None = None,
    ray: str | None = None,
    ray_gpus: float = 0,
    ray_workers: int | None = None,
    on_task: OnTask | None = None,
    processor: Callable[[], Processor] | None = None,
    **options: Any,
) -> BatchResult:
    """Process every still and clip that ``inputs`` name (files, folders, quoted globs, ``@list.txt``
    files, URLs) into the folder ``output``, mirroring their relative paths, with one loaded model.
    A single file or URL goes to the file ``output`` instead (and ``alpha_output``/``foreground_output``
    are files too): the way to run one clip on Ray or in chunks.

    ``recursive``: descend into subfolders. ``video_format`` (mp4, mov, mkv, webm) and
    ``image_format`` (png, jpg, webp) choose the outputs' formats (see :func:`livebg.batch.inputs.plan`
    for the defaults); ``suffix`` is added to each name. ``alpha_output``/``foreground_output``:
    folders that also receive each input's matte / foreground. Outputs already complete from the same
    input and options (the manifest ``.livebg-manifest.json`` in ``output`` says so) are skipped unless
    ``overwrite``. ``chunk_seconds``: cut each clip into chunks of about that length, processed apart
    (on several Ray workers at once) and joined, each starting ``warmup`` frames early
    (:mod:`livebg.batch.chunks`). ``ray``: run on a Ray cluster (``"local"`` starts one here, ``"auto"``,
    ``"ray://host:10001"`` or ``"host:6379"`` joins one), ``ray_gpus`` per worker, ``ray_workers``
    workers (default: as many as the cluster fits). ``on_task(position, count, task)`` is told as each
    input starts and may return a frame progress callback. ``processor`` makes the object that runs one
    input (default: a :class:`livebg.Matter` of the model options). The remaining ``options`` are
    :class:`livebg.Matter`'s and :meth:`livebg.Matter.process`'s keywords.
    """
    from livebg.api import split_options

    model_options, job_options = split_options(options)
    for name in ("overwrite", "output", "alpha_output", "foreground_output", "progress"):
        if name in job_options:
            raise UsageError(f"{name} is set by the batch; do not pass it with several inputs")
    if chunk_seconds is not None:
        if not chunk_seconds > 0:
            raise UsageError(f"--chunk-seconds {chunk_seconds}: give a length above 0 seconds")
        from livebg.batch.chunks import check_options

        check_options(job_options)  # before any model loads
    config = ModelConfig.create(**model_options)  # checks the model options before any work
    background = parse_background(job_options.get("background", "green"))
    transparent = background.transparent
    background.close()

    folder = Path(output)
    wanted = (("alpha", alpha_output), ("foreground", foreground_output))
    extra = [(kind, Path(path)) for kind, path in wanted if path is not None]
    if is_batch(inputs):
        for path in (folder, *(path for _, path in extra)):
            if path.exists() and not path.is_dir():
                raise OutputError(f"output {path} is a file; with several inputs give a folder")
        items = expand(
            [inputs] if isinstance(inputs, str | Path) else inputs,
            recursive=recursive,
            exclude=[folder, *(path for _, path in extra)],
        )
        tasks = plan(
            items,
            folder,
            transparent=transparent,
            output_type=job_options.get("output_type", "composite"),
            video_format=video_format,
            image_format=image_format,
            suffix=suffix,
            extra=extra,
        )
    else:
        source = str(inputs if isinstance(inputs, str | Path) else inputs[0])
        tasks = [Task(source, folder, folder.name, tuple(extra))]
        folder = folder.parent
    _check_inputs_are_not_outputs(tasks)
    made = make_folders(folder)  # for the manifest; each task makes its outputs' folders
    shaping = {key: value for key, value in vars(config).items() if key not in _UNSHAPING}
    shaping |= {key: value for key, value in job_options.items() if key not in _UNSHAPING}
    if chunk_seconds is not None:
        shaping |= {"chunk_seconds": chunk_seconds, "warmup": warmup}
    fingerprint = digest(shaping)
    manifest = Manifest(folder)
    run: dict[str, Any] = {
        "processor": processor or _MatterFactory(model_options),
        "options": job_options,
        "digest": fingerprint,
        "manifest": manifest,
        "overwrite": overwrite,
        "on_task": on_task,
        "chunk_seconds": chunk_seconds,
        "warmup": warmup,
    }
    try:
        if ray is not None:
            from livebg.batch.ray_runner import run_ray

            return run_ray(tasks, address=ray, gpus=ray_gpus, workers=ray_workers, **run)
        return run_local(tasks, **run)
    finally:
        remove_empty(made)  # when every input failed, nothing is left in a folder made for them


class _MatterFactory:
    """Makes a :class:`livebg.Matter` of ``options`` (picklable, for Ray workers)."""

    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options

    def __call__(self) -> Processor:
        from livebg.api import Matter

        return Matter(**self.options)


def _check_inputs_are_not_outputs(tasks: Sequence[Task]) -> None:
    sources = {Path(task.source).resolve() for task in tasks}
    for task in tasks:
        for path in task.outputs:
            if path.resolve() in sources:
                raise UsageError(
                    f"output {path} would replace an input; choose another output folder or give --suffix"
                )
