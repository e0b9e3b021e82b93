"""The job queue: jobs run in the order they came, a few at a time, each under a time limit; finished
jobs keep their files for a while, then the janitor deletes them.

Workers are threads that share one loaded model (each job gets its own stream of it). Progress,
cancellation and the time limit meet in one place: the ``progress(done, total)`` callback a job's work
calls after each frame, which raises to stop it.
"""

from __future__ import annotations

import collections
import logging
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from livebg.errors import LivebgError
from livebg.serve.errors import JobCancelled, NotFound, QueueFull, TimeLimitExceeded
from livebg.serve.storage import Storage
from livebg.serve.work import Work

log = logging.getLogger(__name__)

QUEUED, RUNNING, DONE, FAILED, CANCELLED = "queued", "running", "done", "failed", "cancelled"
INTERNAL_ERROR = "the server failed on this file (an internal error); the details are in the server's log"
_MEASURE_EVERY = 1.0  # seconds between two looks at a running job's disk use


@dataclass(eq=False)
class Job:
    """One upload's work. ``kind``: ``image`` or ``clip``. ``result``: where the work writes (a file in
    the job's folder); ``media_type`` and ``download_name`` describe it to the client. ``labels`` maps
    the job's files to the words an error message shows instead of their paths."""

    id: str
    kind: str
    work: Work
    result: Path
    media_type: str
    download_name: str
    labels: Mapping[Path, str] = field(default_factory=dict)
    state: str = QUEUED
    done: int = 0
    total: int | None = None
    error: str | None = None
    error_status: int = 500
    number: int = 0
    created: float = 0.0
    started: float | None = None
    finished: float | None = None
    cancel: threading.Event = field(default_factory=threading.Event)
    ended: threading.Event = field(default_factory=threading.Event)


class JobQueue:
    """Runs submitted jobs with ``concurrency`` worker threads, all using ``matter``.

    At most ``queue_size`` jobs wait (:class:`QueueFull` beyond). A job may run ``time_limit`` seconds;
    finished jobs are deleted ``retention`` seconds after they end. ``clock`` is ``time.monotonic``
    (tests pass their own). :meth:`close` cancels what runs, joins the threads and is idempotent.
    """

    def __init__(
        self,
        matter: Any,
        storage: Storage,
        *,
        concurrency: int = 1,
        queue_size: int = 32,
        time_limit: float = 900.0,
        retention: float = 3600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.matter = matter
        self.storage = storage
        self.queue_size = queue_size
        self.time_limit = time_limit
        self.retention = retention
        self.clock = clock
        self._jobs: dict[str, Job] = {}
        self._waiting: collections.deque[Job] = collections.deque()
        self._lock = threading.Condition()
        self._stop = threading.Event()
        self._submitted = 0
        self._threads = [
            threading.Thread(target=self._worker, name=f"livebg-job-{i}", daemon=True)
            for i in range(concurrency)
        ]
        self._threads.append(threading.Thread(target=self._janitor, name="livebg-janitor", daemon=True))
        self._started = False

    def start(self) -> None:
        if not self._started:
            self._started = True
            for thread in self._threads:
                thread.start()

    def check_room(self) -> None:
        """:class:`QueueFull` when ``queue_size`` jobs are already waiting (checked before an upload is
        read, and again by :meth:`submit`)."""
        with self._lock:
            if len(self._waiting) >= self.queue_size:
                raise QueueFull(
                    f"{len(self._waiting)} jobs are already waiting, this server's limit; try again in a "
                    "few minutes"
                )

    def submit(self, job: Job) -> None:
        """Queue ``job``; :class:`QueueFull` when ``queue_size`` jobs are already waiting."""
        with self._lock:
            self.check_room()
            self._submitted += 1
            job.number = self._submitted
            job.created = self.clock()
            self._jobs[job.id] = job
            self._waiting.append(job)
            self._lock.notify()

    def get(self, job_id: str) -> Job:
        """The job with this id; :class:`NotFound` when there is none (never was, deleted or expired)."""
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            raise NotFound(
                f"there is no job {job_id[:40]!r}; it was deleted, or finished more than "
                f"{self.retention / 60:.0f} minutes ago and was cleaned up"
            )
        return job

    def delete(self, job_id: str) -> None:
        """Forget a job and delete its files; a running one is stopped first (its worker deletes them)."""
        job = self.get(job_id)
        with self._lock:
            self._jobs.pop(job.id, None)
            job.cancel.set()
            if job.state == QUEUED:
                self._waiting.remove(job)
                self._end(job, CANCELLED, "the job was deleted before it ran")
            running = job.state == RUNNING
        if not running:
            self.storage.remove(job.id)

    def describe(self, job: Job) -> dict[str, Any]:
        """The job as the API shows it (``GET /api/jobs/{id}``)."""
        with self._lock:
            ahead = self._waiting.index(job) if job.state == QUEUED and job in self._waiting else None
            done, total, state = job.done, job.total, job.state
        fraction = min(1.0, done / total) if total else None
        eta = None
        if state == RUNNING and job.started is not None and done and total:
            eta = (self.clock() - job.started) / done * max(0, total - done)
        return {
            "id": job.id,
            "kind": job.kind,
            "state": state,
            "queue_position": ahead,
            "frames_done": done,
            "frames_total": total,
            "progress": 1.0 if state == DONE else fraction,
            "eta_seconds": None if eta is None else round(eta, 1),
            "error": job.error,
            "result": f"/api/jobs/{job.id}/result" if state == DONE else None,
            "media_type": job.media_type,
            "filename": job.download_name,
        }

    def counts(self) -> dict[str, int]:
        """How many jobs wait and run now."""
        with self._lock:
            running = sum(1 for job in self._jobs.values() if job.state == RUNNING)
            return {"queued": len(self._waiting), "running": running}

    def close(self) -> None:
        """Stop: waiting jobs are dropped, running ones cancelled; joins every thread."""
        self._stop.set()
        with self._lock:
            for job in self._jobs.values():
                job.cancel.set()
            while self._waiting:
                self._end(self._waiting.popleft(), CANCELLED, "the server stopped before the job ran")
            self._lock.notify_all()
        if self._started:
            for thread in self._threads:
                thread.join()

    # -- threads -----------------------------------------------------------------------------------

    def _worker(self) -> None:
        while True:
            with self._lock:
                while not self._waiting and not self._stop.is_set():
                    self._lock.wait()
                if self._stop.is_set():
                    return
                job = self._waiting.popleft()
                job.state = RUNNING
                job.started = self.clock()
            self._run(job)

    def _run(self, job: Job) -> None:
        state, error = DONE, None
        try:
            job.work(self.matter, self._progress(job))
            self.storage.measure(job.id)
        except JobCancelled as exc:
            state, error, job.error_status = CANCELLED, str(exc), exc.http_status
        except LivebgError as exc:
            state, error = FAILED, self._public(job, str(exc))
            job.error_status = getattr(exc, "http_status", 422)
        except Exception:
            log.exception("job %s failed", job.id)
            state, error = FAILED, INTERNAL_ERROR
        with self._lock:
            self._end(job, state, error)
            deleted = job.id not in self._jobs
        if deleted or state != DONE:
            job.result.unlink(missing_ok=True)
        if deleted:
            self.storage.remove(job.id)
        log.info("job %s (%s): %s%s", job.id[:8], job.kind, state, f": {error}" if error else "")

    def _progress(self, job: Job) -> Callable[[int, int | None], None]:
        measured = self.clock()

        def progress(done: int, total: int | None) -> None:
            nonlocal measured
            job.done, job.total = done, total
            if job.cancel.is_set():
                raise JobCancelled(
                    "the server stopped while the job ran" if self._stop.is_set() else "the job was deleted"
                )
            now = self.clock()
            if job.started is not None and now - job.started > self.time_limit:
                raise TimeLimitExceeded(
                    f"the job ran longer than this server's limit of {self.time_limit / 60:.3g} minutes; "
                    "send a shorter clip, or start the server with a longer --time-limit"
                )
            if now - measured >= _MEASURE_EVERY:
                measured = now
                self.storage.measure(job.id)

        return progress

    def _end(self, job: Job, state: str, error: str | None) -> None:
        """Record the end of ``job`` (call with the lock held)."""
        job.state, job.error, job.finished = state, error, self.clock()
        job.ended.set()

    def _public(self, job: Job, message: str) -> str:
        """``message`` without the server's paths: a job's files by their labels, anything else under
        the storage folder as "a file on the server"."""
        for path, label in job.labels.items():
            message = message.replace(str(path), label)
        root = re.escape(str(self.storage.root))
        return re.sub(root + r"[^\s'\";,)]*", "a file on the server", message)

    def _janitor(self) -> None:
        interval = max(0.05, min(30.0, self.retention / 4))
        while not self._stop.wait(interval):
            self.sweep()

    def sweep(self) -> None:
        """Delete the jobs that finished more than ``retention`` seconds ago."""
        now = self.clock()
        with self._lock:
            expired = [
                job
                for job in self._jobs.values()
                if job.finished is not None and now - job.finished > self.retention
            ]
            for job in expired:
                del self._jobs[job.id]
        for job in expired:
            self.storage.remove(job.id)
            log.debug("job %s expired", job.id[:8])
