"""Running a batch on a Ray cluster: each input (or each chunk of a long clip) is a call on a worker
actor that loads the model once and keeps it.

The driver (this process) triages the tasks against the manifest exactly as a local run does, hands
them out to the workers, records each finished output in the manifest and joins chunked clips. The
outputs are written by the workers, so the output folder must be one the workers see at the same
path (this machine, or a shared folder). A worker whose process dies mid-input is restarted by Ray
(its model loaded again) and the input retried on it (``max_restarts``, ``max_task_retries``);
partial files never appear under an output's name. Ray is imported only here.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import signal
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from livebg.batch import chunks
from livebg.batch.inputs import Task
from livebg.batch.manifest import Manifest
from livebg.batch.runner import BatchResult, Failure, OnTask, Processor, run_task, triage
from livebg.errors import Interrupted, LivebgError, MissingDependencyError, UsageError
from livebg.sinks.safe_write import remove_stale_partials
from livebg.sources.span import Span
from livebg.transcode import Result

log = logging.getLogger(__name__)

RETRIES = 2
"""How many times a worker that died is restarted, and an input it was running retried."""


def import_ray() -> Any:
    """The ``ray`` module, or :class:`MissingDependencyError` saying how to install it."""
    try:
        import ray
    except ImportError:
        raise MissingDependencyError(
            "--ray needs the ray package, which is not installed; "
            "install it with: pip install 'livebg[ray]' (or pip install ray)"
        ) from None
    return ray


def connect(ray: Any, address: str) -> bool:
    """Joins the cluster at ``address`` (``local``: starts one on this machine; ``auto``; ``ray://``;
    ``host:port``) unless Ray is already initialised; returns whether this call started the
    connection (and so should end it)."""
    if ray.is_initialized():
        return False
    if address not in ("local", "", "auto") and not address.startswith("ray://") and ":" not in address:
        raise UsageError(f"--ray {address}: give auto, ray://HOST:10001, HOST:6379 or nothing")
    with keep_sigterm_handler():
        if address in ("local", ""):
            ray.init(include_dashboard=False, log_to_driver=False)
        else:
            ray.init(address=address, log_to_driver=False)
    return True


@contextlib.contextmanager
def keep_sigterm_handler() -> Iterator[None]:
    """Puts back the SIGTERM handler after the block: ``ray.init`` replaces it with one that exits at
    once, and ``ray.shutdown`` resets the operating system's to the default (ending the process) while
    Python still names the old one; livebg's stops the work like Ctrl-C and cleans up
    (:mod:`livebg.terminal`)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGTERM)
    try:
        yield
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


class Worker:
    """What each Ray actor holds: a processor (a :class:`livebg.Matter`, loaded on the first call and
    kept) and a way to run one input or one chunk with it; failures come back as :class:`Failure`."""

    def __init__(self, processor: Callable[[], Processor]) -> None:
        self._factory = processor
        self._processor: Processor | None = None

    def run(self, task: Task, options: Mapping[str, Any], span: Span | None = None) -> Result | Failure:
        """``task`` (or, with ``span``, one chunk of it) made with the worker's model."""
        try:
            self._processor = self._processor or self._factory()
            if span is not None:
                return run_task(self._processor, task, chunks.chunk_options(options, span))
            return run_task(self._processor, task, options)
        except LivebgError as exc:
            return Failure(task.source, str(exc))
        except Exception as exc:  # reported with the task, as a local run does
            return Failure(task.source, f"{type(exc).__name__}: {exc}")


@dataclass
class _Clip:
    """A task in flight: its chunks (empty when it runs whole) and how many are still out."""

    task: Task
    position: int
    parts: list[Task]
    left: int
    pieces: list[chunks.Piece] = field(default_factory=list)
    frames: int = 0


def run_ray(
    tasks: Sequence[Task],
    *,
    address: str,
    processor: Callable[[], Processor],
    options: Mapping[str, Any],
    digest: str,
    manifest: Manifest,
    gpus: float = 0,
    workers: int | None = None,
    overwrite: bool = False,
    on_task: OnTask | None = None,
    chunk_seconds: float | None = None,
    warmup: int | None = None,
) -> BatchResult:
    """Run ``tasks`` on the Ray cluster at ``address`` with ``workers`` actors of ``gpus`` GPUs each
    (default: one per CPU, or per ``gpus`` of the cluster's GPUs); the arguments are those of
    :func:`livebg.batch.runner.run_local`. Raises :class:`Interrupted` on Ctrl-C after removing the
    partial outputs of the inputs in flight."""
    ray = import_ray()
    result = BatchResult()
    began = time.perf_counter()
    todo: list[Task] = []
    for task in tasks:
        verdict = triage(task, manifest, digest, overwrite=overwrite)
        if isinstance(verdict, Failure):
            result.failed.append(verdict)
        elif verdict:
            todo.append(task)
        else:
            result.skipped.append(task)
    if not todo:
        result.seconds = time.perf_counter() - began
        return result
    started = connect(ray, address)
    actors: list[Any] = []
    clips: list[_Clip] = []
    try:
        units = _units(todo, options, chunk_seconds, warmup, clips, result)
        count = workers or _fitting(ray, gpus)
        remote = ray.remote(num_cpus=1, num_gpus=gpus, max_restarts=RETRIES, max_task_retries=RETRIES)(Worker)
        actors = [remote.remote(processor) for _ in range(min(count, len(units)))]
        idle = list(actors)
        running: dict[Any, tuple[Any, _Clip, Task]] = {}
        announced: set[int] = set()
        while units or running:
            while units and idle:
                clip, part, span = units.pop(0)
                actor = idle.pop()
                if clip.position not in announced and on_task is not None:
                    announced.add(clip.position)
                    on_task(clip.position, len(todo), clip.task)
                running[actor.run.remote(part, options, span)] = (actor, clip, part)
            finished, _ = ray.wait(list(running), num_returns=1)
            for ref in finished:
                actor, clip, part = running.pop(ref)
                idle.append(actor)
                _finish(ray, ref, clip, result, manifest, digest, options, len(todo))
                if not clip.left:  # done, or failed: none of its chunks is handed out any more
                    units = [unit for unit in units if unit[0] is not clip]
    except KeyboardInterrupt:
        for actor in actors:
            ray.kill(actor, no_restart=True)
        for clip in clips:
            if clip.left:
                _clean(clip)
        raise Interrupted(
            f"interrupted: the {len(result.done)} outputs finished in this run are kept and the "
            "unfinished ones were removed; run the same command again to continue"
        ) from None
    finally:
        for actor in actors:
            with contextlib.suppress(Exception):
                ray.kill(actor, no_restart=True)
        if started:
            with keep_sigterm_handler():
                ray.shutdown()
    result.seconds = time.perf_counter() - began
    return result


def _units(
    todo: Sequence[Task],
    options: Mapping[str, Any],
    chunk_seconds: float | None,
    warmup: int | None,
    clips: list[_Clip],
    result: BatchResult,
) -> list[tuple[_Clip, Task, Span | None]]:
    """The calls to hand out: a whole task, or each chunk of a chunked clip; fills ``clips`` (and
    ``result`` with the clips that cannot be cut)."""
    units: list[tuple[_Clip, Task, Span | None]] = []
    for position, task in enumerate(todo, start=1):
        if chunk_seconds is None or task.is_still:
            clip = _Clip(task, position, [], 1)
            units.append((clip, task, None))
        else:
            try:
                chunks.check(task, options)
                pieces = chunks.plan_spans(
                    task.source, chunk_seconds, chunks.DEFAULT_WARMUP if warmup is None else warmup
                )
            except LivebgError as exc:
                result.failed.append(Failure(task.source, str(exc)))
                continue
            parts = [chunks.chunk_task(task, index) for index in range(len(pieces))]
            clip = _Clip(task, position, parts, len(parts), pieces)
            units += [(clip, part, piece.span) for part, piece in zip(parts, pieces, strict=True)]
        clips.append(clip)
    return units


def _finish(
    ray: Any,
    ref: Any,
    clip: _Clip,
    result: BatchResult,
    manifest: Manifest,
    digest: str,
    options: Mapping[str, Any],
    count: int,
) -> None:
    """Takes in one finished call: a whole output is recorded; a clip's last chunk joins the clip."""
    if not clip.left:
        _clean(clip)  # a chunk still in flight when its clip failed
        return
    try:
        made = ray.get(ref)
    except ray.exceptions.RayError as exc:  # the worker died more often than it may be restarted
        made = Failure(clip.task.source, f"its Ray worker failed ({type(exc).__name__}); see the Ray logs")
    if isinstance(made, Failure):
        clip.left = 0
        _clean(clip)
        result.failed.append(Failure(clip.task.source, made.reason))
        return
    clip.left -= 1
    clip.frames += made.frames
    if clip.left:
        return
    try:
        if clip.parts:
            chunks.join(clip.task, clip.parts, clip.pieces, audio=options.get("audio", True))
            made = Result(clip.task.output, clip.frames, made.seconds)
    except LivebgError as exc:
        result.failed.append(Failure(clip.task.source, str(exc)))
        return
    manifest.record(clip.task, digest)
    result.done.append(made)
    log.info("[%d/%d] made %s: %d frames", len(result.done), count, clip.task.key, made.frames)


def _clean(clip: _Clip) -> None:
    """Removes what a worker may have left of ``clip``: its chunks, and partial files whose writer is
    gone (a killed worker's; those of workers still ending are removed by the next run there)."""
    for path in clip.task.outputs:
        with contextlib.suppress(OSError):
            remove_stale_partials(path.parent)
    if clip.parts:
        shutil.rmtree(chunks.chunk_folder(clip.task), ignore_errors=True)


def _fitting(ray: Any, gpus: float) -> int:
    """How many workers of ``gpus`` GPUs (and one CPU) the cluster holds at once."""
    resources = ray.cluster_resources()
    if gpus > 0:
        return max(1, int(resources.get("GPU", 0) // gpus))
    return max(1, int(resources.get("CPU", 1)))
