"""The worker on RQ (``TASKS_BACKEND=rq``), as on many machines: real
``manage.py worker`` processes sharing PostgreSQL and one RQ queue in Redis.

Like tests/reliability/test_outbox_processes.py for the database backend: the
processes' storage logs every ``delete`` call (tests/storages.py), so a test counts
the removals across processes. The queue lives in Redis database 7 (``TEST_RQ_REDIS_URL``),
this file's own — it is emptied before and after each test; other tests use other
numbers and nothing here touches database 0.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.core.files.storage import default_storage
from django.utils import timezone

from chats.models import BlobRemoval, ScheduledJob
from tests.factories import FileFactory, UserFactory
from tests.reliability.test_outbox_processes import WAIT, _env, _finish, _worker
from tests.servers import REPO

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

REDIS_URL = os.environ.get("TEST_RQ_REDIS_URL", "redis://127.0.0.1:6379/7")


def _redis_up() -> bool:
    address = urlsplit(REDIS_URL)
    try:
        with socket.create_connection((address.hostname, address.port or 6379), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture
def redis() -> Iterator:
    if not _redis_up():
        if os.environ.get("CI") == "true":
            pytest.fail(f"Redis is not running at {REDIS_URL} (.ci/run starts it)")
        pytest.skip(f"Redis is not running at {REDIS_URL}")
    from redis import Redis

    connection = Redis.from_url(REDIS_URL)
    connection.flushdb()
    try:
        yield connection
    finally:
        connection.flushdb()
        connection.close()


def _rq_env(tmp_path, **extra: str) -> dict[str, str]:
    return _env(
        TASKS_BACKEND="rq",
        REDIS_URL=REDIS_URL,
        TEST_STORAGE_BACKEND="tests.storages.RecordingStorage",
        TEST_STORAGE_LOG=str(tmp_path / "deletes.log"),
        **extra,
    )


def _enqueue(env: dict[str, str], count: int) -> list[str]:
    """Enqueue ``count`` outbox sweeps from another process (as the web process would),
    through ``django.tasks``; their ids."""
    code = (
        "from chats import tasks\n"
        f"for _ in range({count}): print('id:' + tasks.sweep_outbox.enqueue().id)\n"
    )
    done = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=REPO,
        env=env,
        capture_output=True,
        timeout=WAIT,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-3000:]
    return [line[3:] for line in done.stdout.decode().split() if line.startswith("id:")]


def _jobs(redis) -> dict[str, list]:
    """Every job RQ finished (by task path) with its runs; asserts none failed or is left."""
    from rq import Queue
    from rq.job import Job

    queue = Queue("default", connection=redis)
    assert queue.count == 0  # nothing left waiting
    assert queue.failed_job_registry.get_job_ids() == []
    assert queue.started_job_registry.get_job_ids() == []
    jobs: dict[str, list] = {}
    for job_id in queue.finished_job_registry.get_job_ids():
        job = Job.fetch(job_id, connection=redis)
        jobs.setdefault(job.func_name, []).append(job)
    return jobs


def test_two_rq_workers_remove_each_blob_once_and_run_each_job_once(tmp_path, redis):
    files = [FileFactory(owner=UserFactory()) for _ in range(2)]
    names = [
        default_storage.save(f"uploads/outbox/{i}.txt", FileFactory.build().blob)
        for i in range(300)
    ]
    # Rows of a deletion whose process is gone (no lease), plus one for a live blob.
    BlobRemoval.objects.bulk_create(BlobRemoval(name=name) for name in names)
    BlobRemoval.objects.create(name=files[0].blob.name)
    env = _rq_env(
        tmp_path,
        DELETION_BLOB_CHUNK_SIZE="10",  # many small claims, so the two interleave
        OUTBOX_SWEEP_INTERVAL="0",  # only the two jobs below
        ORPHAN_SWEEP_INTERVAL="0",
    )
    enqueued = _enqueue(env, 2)  # two jobs, so both workers have one at the same time
    assert len(enqueued) == 2

    workers = [_worker(env), _worker(env)]
    for worker in workers:
        _finish(worker)

    calls = (tmp_path / "deletes.log").read_text().split()
    assert sorted(calls) == sorted(names)  # each once, and never the live one
    assert not any(default_storage.exists(name) for name in names)
    assert all(default_storage.exists(f.blob.name) for f in files)
    assert not BlobRemoval.objects.exists()
    # Each job ran once, on one worker, and nothing else ran.
    jobs = _jobs(redis)
    assert set(jobs) == {"chats.tasks.sweep_outbox"}
    assert sorted(job.id for job in jobs["chats.tasks.sweep_outbox"]) == sorted(enqueued)
    assert all(len(job.results()) == 1 for job in jobs["chats.tasks.sweep_outbox"])


def test_two_rq_schedulers_enqueue_each_periods_job_once(tmp_path, redis):
    env = _rq_env(tmp_path, OUTBOX_SWEEP_INTERVAL="3600", ORPHAN_SWEEP_INTERVAL="3600")

    def period() -> None:
        # Something for the outbox sweep to do (it is skipped when nothing is due).
        BlobRemoval.objects.create(
            name=default_storage.save("uploads/outbox/due.txt", FileFactory.build().blob)
        )
        # Both schedulers look at the schedule (`--batch`: once, before their jobs),
        # both run what is queued, and exit.
        workers = [_worker(env), _worker(env)]
        for worker in workers:
            _finish(worker)

    period()
    jobs = _jobs(redis)
    assert {path: len(runs) for path, runs in jobs.items()} == {
        "chats.tasks.sweep_outbox": 1,
        "chats.tasks.sweep_orphans": 1,
    }
    assert not BlobRemoval.objects.exists()

    # Within the period nobody enqueues again; once it is over, once more.
    period()
    assert sum(len(runs) for runs in _jobs(redis).values()) == 2
    assert BlobRemoval.objects.count() == 1  # the new row waits for the next period
    BlobRemoval.objects.all().delete()
    ScheduledJob.objects.update(next_run_at=timezone.now() - timedelta(seconds=1))
    period()
    jobs = _jobs(redis)
    assert {path: len(runs) for path, runs in jobs.items()} == {
        "chats.tasks.sweep_outbox": 2,
        "chats.tasks.sweep_orphans": 2,
    }
    assert all(len(job.results()) == 1 for runs in jobs.values() for job in runs)
    assert not BlobRemoval.objects.exists()


def test_with_redis_away_the_worker_says_so_and_the_period_stays_due(tmp_path):
    BlobRemoval.objects.create(
        name=default_storage.save("uploads/outbox/due.txt", FileFactory.build().blob)
    )
    # Nothing listens on port 1 of the loopback: the connection is refused at once.
    env = {**_rq_env(tmp_path), "REDIS_URL": "redis://127.0.0.1:1/0"}

    worker = _worker(env)
    out, _ = worker.communicate(timeout=WAIT)
    text = out.decode(errors="replace")

    assert worker.returncode == 1, text[-3000:]
    assert "Redis at TASKS_REDIS_URL is not reachable" in text
    assert "Traceback" not in text
    job = ScheduledJob.objects.get(name="outbox-sweep")
    assert job.last_enqueued_at is None  # not enqueued, so not marked done
    assert job.next_run_at <= timezone.now()  # the next look tries again
    assert BlobRemoval.objects.count() == 1
