"""Running a batch on this machine: one loaded model for every input, one input after another.

Each task is triaged against the manifest first (done: skipped; made here before with other options
or from a changed input: made again; an output that no batch here made: left alone, unless
``overwrite``). A failing input is noted with its one-sentence reason and the batch goes on; Ctrl-C
stops it after the file in progress has been cleaned, keeping every finished output.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from livebg.batch.inputs import Task
from livebg.batch.manifest import Manifest, State
from livebg.errors import Interrupted, LivebgError
from livebg.sinks.safe_write import make_folders, remove_empty
from livebg.transcode import Progress, Result

log = logging.getLogger(__name__)


class Processor(Protocol):
    """What runs one input: :class:`livebg.Matter` (its :meth:`~livebg.Matter.process`)."""

    def process(self, input: Any, output: Any, **options: Any) -> Result: ...


OnTask = Callable[[int, int, Task], Progress | None]
"""``on_task(position, count, task)``: called as task ``position`` (from 1) of ``count`` starts; may
return a :data:`~livebg.transcode.Progress` callback for its frames."""


@dataclass(frozen=True)
class Failure:
    """An input that failed, with the one-sentence reason."""

    source: str
    reason: str


@dataclass
class BatchResult:
    """What a batch did: ``done`` (what each made output holds), ``skipped`` (tasks whose outputs were
    already complete), ``failed``; ``seconds`` of wall time."""

    done: list[Result] = field(default_factory=list)
    skipped: list[Task] = field(default_factory=list)
    failed: list[Failure] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def total(self) -> int:
        return len(self.done) + len(self.skipped) + len(self.failed)

    @property
    def ok(self) -> bool:
        """Whether every input succeeded (made or already done)."""
        return not self.failed

    def summary(self) -> str:
        """One line of counts, then one line per failure with its reason."""
        lines = [
            f"{len(self.done)} made, {len(self.skipped)} already done, {len(self.failed)} failed "
            f"of {self.total} inputs in {self.seconds:.1f} s"
        ]
        lines += [f"  failed: {failure.source}: {failure.reason}" for failure in self.failed]
        return "\n".join(lines)


def triage(task: Task, manifest: Manifest, options: str, *, overwrite: bool) -> Failure | bool:
    """Whether ``task`` is to be run (``False``: its outputs are done), or the :class:`Failure` of an
    output in the way that no batch here made."""
    state = manifest.state(task, options)
    if overwrite:
        return True
    if state is State.DONE:
        return False
    if state is State.UNKNOWN:
        for path in task.outputs:
            if path.exists():
                return Failure(
                    task.source,
                    f"output {path} exists but was not made by a batch into this folder; "
                    "pass --overwrite to replace it or choose another output folder",
                )
    return True


def run_task(
    processor: Processor,
    task: Task,
    options: Mapping[str, Any],
    *,
    chunk_seconds: float | None = None,
    warmup: int | None = None,
    progress: Progress | None = None,
) -> Result:
    """Make ``task``'s outputs (replacing any) with ``processor``; a clip is cut into chunks of
    ``chunk_seconds`` when given (see :mod:`livebg.batch.chunks`). The folders made for them are removed
    again when the task fails and leaves them empty."""
    made = [folder for path in task.outputs for folder in make_folders(path.parent)]
    extra = {f"{kind}_output": path for kind, path in task.extra}
    try:
        if chunk_seconds is not None and not task.is_still:
            from livebg.batch.chunks import process_chunked

            return process_chunked(processor, task, options, chunk_seconds, warmup=warmup, progress=progress)
        return processor.process(
            task.source, task.output, overwrite=True, progress=progress, **extra, **options
        )
    except BaseException:
        remove_empty(made)
        raise


def run_local(
    tasks: Sequence[Task],
    *,
    processor: Callable[[], Processor],
    options: Mapping[str, Any],
    digest: str,
    manifest: Manifest,
    overwrite: bool = False,
    on_task: OnTask | None = None,
    chunk_seconds: float | None = None,
    warmup: int | None = None,
) -> BatchResult:
    """Run ``tasks`` here. ``processor`` makes the :class:`Processor` (the model) on first need, so a
    batch with nothing left to do loads nothing. ``options``: :meth:`livebg.Matter.process`'s keywords
    for every task; ``digest``: their fingerprint for the manifest. Raises :class:`Interrupted` on
    Ctrl-C, after the file in progress has been removed."""
    result = BatchResult()
    began = time.perf_counter()
    loaded: Processor | None = None
    for position, task in enumerate(tasks, start=1):
        verdict = triage(task, manifest, digest, overwrite=overwrite)
        if isinstance(verdict, Failure):
            result.failed.append(verdict)
            continue
        if not verdict:
            result.skipped.append(task)
            continue
        progress = on_task(position, len(tasks), task) if on_task is not None else None
        try:
            loaded = loaded or processor()
            made = run_task(
                loaded, task, options, chunk_seconds=chunk_seconds, warmup=warmup, progress=progress
            )
        except KeyboardInterrupt:  # Interrupted too: the file in progress is already cleaned
            raise Interrupted(
                f"interrupted during {task.source}: its partial output was removed and the "
                f"{len(result.done)} outputs finished in this run are kept; run the same command again "
                "to continue"
            ) from None
        except LivebgError as exc:
            if loaded is None:
                raise  # the model itself cannot load: no input can succeed
            result.failed.append(Failure(task.source, str(exc)))
            continue
        except Exception as exc:  # one broken input must not stop the batch
            log.debug("%s failed", task.source, exc_info=True)
            result.failed.append(Failure(task.source, f"{type(exc).__name__}: {exc}"))
            continue
        manifest.record(task, digest)
        result.done.append(made)
    result.seconds = time.perf_counter() - began
    return result
