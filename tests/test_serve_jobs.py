"""livebg/serve/jobs.py: order, concurrency, progress, cancellation, time limit, retention."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from livebg.errors import InputError
from livebg.serve.errors import NotFound, QueueFull
from livebg.serve.jobs import CANCELLED, DONE, FAILED, INTERNAL_ERROR, Job, JobQueue
from livebg.serve.storage import Storage


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def storage(tmp_path: Path) -> Iterator[Storage]:
    storage = Storage(10**9, parent=tmp_path)
    yield storage
    storage.close()


def make_job(storage: Storage, work: Callable[[Any, Any], None], kind: str = "clip") -> Job:
    job_id, folder = storage.create()
    (folder / "input.mp4").write_bytes(b"upload")
    return Job(
        job_id,
        kind,
        work,
        folder / "result.mp4",
        "video/mp4",
        "clip-livebg.mp4",
        labels={folder / "input.mp4": "the upload"},
    )


def wait(job: Job) -> None:
    assert job.ended.wait(30), f"job {job.id} did not end"


def test_jobs_run_one_at_a_time_in_the_order_they_came(storage: Storage) -> None:
    order: list[int] = []
    running = []
    peak = 0
    gate = threading.Event()

    def work_for(n: int) -> Any:
        def run(matter: Any, progress: Any) -> None:
            nonlocal peak
            running.append(n)
            peak = max(peak, len(running))
            gate.wait(30)
            order.append(n)
            running.remove(n)

        return run

    queue = JobQueue("matter", storage, concurrency=1)
    jobs = [make_job(storage, work_for(n)) for n in range(6)]
    for job in jobs:
        queue.submit(job)
    queue.start()
    try:
        assert [queue.describe(job)["queue_position"] for job in jobs[1:]] == [0, 1, 2, 3, 4]
        gate.set()
        for job in jobs:
            wait(job)
    finally:
        queue.close()
    assert order == list(range(6)) and peak == 1
    assert [job.number for job in jobs] == [1, 2, 3, 4, 5, 6]
    assert all(job.state == DONE for job in jobs)


def test_concurrency_runs_that_many_at_once(storage: Storage) -> None:
    both = threading.Barrier(2, timeout=30)
    queue = JobQueue("matter", storage, concurrency=2)
    jobs = [make_job(storage, lambda matter, progress: both.wait()) for _ in range(2)]
    queue.start()
    try:
        for job in jobs:
            queue.submit(job)
        for job in jobs:
            wait(job)
    finally:
        queue.close()
    assert [job.state for job in jobs] == [DONE, DONE]  # each waited for the other: they ran together


def test_progress_and_eta_are_reported(storage: Storage) -> None:
    clock = Clock()
    reached, release = threading.Event(), threading.Event()

    def work(matter: Any, progress: Any) -> None:
        progress(0, 40)
        clock.now += 5.0
        progress(10, 40)
        reached.set()
        release.wait(30)

    queue = JobQueue("matter", storage, clock=clock)
    job = make_job(storage, work)
    queue.submit(job)
    queue.start()
    try:
        assert reached.wait(30)
        shown = queue.describe(job)
        assert shown["state"] == "running" and shown["frames_done"] == 10 and shown["frames_total"] == 40
        assert shown["progress"] == 0.25 and shown["eta_seconds"] == 15.0 and shown["result"] is None
        assert queue.counts() == {"queued": 0, "running": 1}
        release.set()
        wait(job)
    finally:
        queue.close()
    shown = queue.describe(job)
    assert (
        shown["state"] == DONE
        and shown["progress"] == 1.0
        and shown["result"] == f"/api/jobs/{job.id}/result"
    )


def test_deleting_a_running_job_stops_it_and_removes_its_files(storage: Storage) -> None:
    started = threading.Event()
    frames_seen = []

    def work(matter: Any, progress: Any) -> None:
        for done in range(10_000):
            started.set()
            progress(done, 10_000)
            frames_seen.append(done)
            threading.Event().wait(0.005)

    queue = JobQueue("matter", storage)
    job = make_job(storage, work)
    queue.submit(job)
    queue.start()
    try:
        assert started.wait(30)
        queue.delete(job.id)
        wait(job)
    finally:
        queue.close()
    assert job.state == CANCELLED and job.error == "the job was deleted"
    assert len(frames_seen) < 10_000
    assert not (storage.root / job.id).exists()
    with pytest.raises(NotFound, match="there is no job"):
        queue.get(job.id)


def test_deleting_a_waiting_job_drops_it_at_once(storage: Storage) -> None:
    queue = JobQueue("matter", storage)
    job = make_job(storage, lambda matter, progress: None)
    queue.submit(job)
    queue.delete(job.id)
    assert job.state == CANCELLED and not (storage.root / job.id).exists()
    queue.close()


def test_a_job_past_the_time_limit_fails_with_a_sentence(storage: Storage) -> None:
    clock = Clock()

    def slow(matter: Any, progress: Any) -> None:
        for done in range(100):
            clock.now += 1.0
            progress(done, 100)

    queue = JobQueue("matter", storage, time_limit=30.0, clock=clock)
    job = make_job(storage, slow)
    queue.submit(job)
    queue.start()
    try:
        wait(job)
    finally:
        queue.close()
    assert job.state == FAILED and job.done <= 31
    assert job.error == (
        "the job ran longer than this server's limit of 0.5 minutes; send a shorter clip, or start the "
        "server with a longer --time-limit"
    )


def test_errors_name_no_server_path(storage: Storage) -> None:
    def bad_input(matter: Any, progress: Any) -> None:
        folder = storage.root / job.id
        raise InputError(f"{folder / 'input.mp4'} is damaged: decoding stopped after 3 frames ({folder}/.x)")

    def bug(matter: Any, progress: Any) -> None:
        raise ZeroDivisionError(f"secret detail {storage.root}")

    queue = JobQueue("matter", storage)
    job = make_job(storage, bad_input)
    other = make_job(storage, bug)
    queue.submit(job)
    queue.submit(other)
    queue.start()
    try:
        wait(job)
        wait(other)
    finally:
        queue.close()
    assert job.error == "the upload is damaged: decoding stopped after 3 frames (a file on the server)"
    assert job.error_status == 422
    assert other.error == INTERNAL_ERROR and other.error_status == 500


def test_finished_jobs_are_deleted_after_the_retention_time(storage: Storage) -> None:
    clock = Clock()
    queue = JobQueue("matter", storage, retention=60.0, clock=clock)
    job = make_job(storage, lambda matter, progress: None)
    queue.submit(job)
    queue.start()
    try:
        wait(job)
        clock.now += 59.0
        queue.sweep()
        assert queue.get(job.id) is job
        clock.now += 2.0
        queue.sweep()
    finally:
        queue.close()
    with pytest.raises(NotFound, match="finished more than 1 minutes ago"):
        queue.get(job.id)
    assert not (storage.root / job.id).exists()


def test_a_full_queue_refuses_more(storage: Storage) -> None:
    queue = JobQueue("matter", storage, queue_size=2)
    for _ in range(2):
        queue.submit(make_job(storage, lambda matter, progress: None))
    with pytest.raises(QueueFull, match="2 jobs are already waiting, this server's limit; try again"):
        queue.submit(make_job(storage, lambda matter, progress: None))
    queue.close()


def test_close_cancels_what_waits_and_runs(storage: Storage) -> None:
    started = threading.Event()

    def forever(matter: Any, progress: Any) -> None:
        while True:
            started.set()
            progress(0, None)
            threading.Event().wait(0.01)

    queue = JobQueue("matter", storage)
    running, waiting = make_job(storage, forever), make_job(storage, forever)
    queue.submit(running)
    queue.submit(waiting)
    queue.start()
    assert started.wait(30)
    queue.close()
    assert running.state == CANCELLED and running.error == "the server stopped while the job ran"
    assert waiting.state == CANCELLED and waiting.error == "the server stopped before the job ran"
