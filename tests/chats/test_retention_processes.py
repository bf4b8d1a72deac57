"""Retention runs in real worker processes on one PostgreSQL database: a worker killed
(SIGKILL) in the middle of a run, and two workers running the job at once.

The workers are ``manage.py worker --batch`` processes on the pytest database (data
committed: ``transactional_db``) and the test's media folder. Every due chat has a
file, and the workers' storage (tests/storages.py, through tests/process_settings.py)
waits in each ``delete``: a batch's blob removals, right after its commit, make each
batch last long enough to be caught between two batches. The product has no sleep.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from django.conf import settings
from django.core.files.storage import default_storage
from django.db import connection
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from chats import retention, tasks
from chats.deletion import effects
from chats.models import BlobRemoval, Chat, Message
from collections_app.models import File
from neptun.models import DeletionRecord
from tests.factories import ChatFactory, FileFactory, MessageFactory, TenantFactory, UserFactory
from tests.servers import REPO, server_env

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

WAIT = 90  # seconds, at most, for anything the test waits on
BATCH = 2  # chats a retention batch


def _env(**extra: str) -> dict[str, str]:
    return server_env(
        DJANGO_SETTINGS_MODULE="tests.process_settings",
        MEDIA_ROOT=str(settings.MEDIA_ROOT),
        TEST_STORAGE_BACKEND="tests.storages.BlockingStorage",
        RETENTION_BATCH_CHATS=str(BATCH),
        # Only the jobs a test enqueues run.
        RETENTION_INTERVAL="0",
        OUTBOX_SWEEP_INTERVAL="0",
        ORPHAN_SWEEP_INTERVAL="0",
        **extra,
    )


def _worker(env: dict[str, str], *options: str) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "manage.py",
            "worker",
            "--batch",
            "--no-startup-delay",
            "--no-reload",
            *options,
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def _finish(process: subprocess.Popen) -> None:
    out, _ = process.communicate(timeout=WAIT)
    assert process.returncode == 0, out.decode(errors="replace")[-3000:]


def _until(condition, what: str, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        if process is not None and process.poll() is not None:
            pytest.fail(f"{what}: the worker ended first")
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {WAIT}s")
        time.sleep(0.02)


def _no_other_sessions() -> bool:
    """No other session is inside a transaction any more: the killed worker's rolled
    back. Idle sessions do not count (this process's connection pool keeps some)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND xact_start IS NOT NULL"
        )
        return cursor.fetchone()[0] == 0


def _world(due: int) -> tuple[list[int], list[str], list[int], list[str]]:
    """``due`` chats of a tenant whose policy deletes them (each with a message and a
    file), and live ones: the tenant's recent chats, and old chats of a tenant that
    keeps forever. The ids and blob names of both."""
    retention.policy_set(tenant=(strict := TenantFactory()), data={"inactive_days": 1})
    lax = TenantFactory()
    retention.policy_set(tenant=lax, data={"inactive_days": None})
    owner = UserFactory(tenant=strict)
    old = timezone.now() - timedelta(days=3)
    doomed, doomed_blobs = [], []
    for _ in range(due):
        chat = ChatFactory(owner=owner, created_at=old)
        MessageFactory(chat=chat, created_at=old)
        doomed.append(chat.pk)
        doomed_blobs.append(FileFactory(owner=owner, chat=chat).blob.name)
    live = [ChatFactory(owner=owner), ChatFactory(owner=UserFactory(tenant=lax), created_at=old)]
    for chat in live:
        MessageFactory(chat=chat, created_at=chat.created_at)
    live_blobs = [FileFactory(owner=chat.owner, chat=chat).blob.name for chat in live]
    return doomed, doomed_blobs, [chat.pk for chat in live], live_blobs


def _records() -> list[DeletionRecord]:
    return list(
        DeletionRecord.objects.filter(interface=DeletionRecord.Interface.RETENTION).order_by("id")
    )


def _assert_records_match_the_deleted(doomed: list[int]) -> None:
    """The records claim exactly the chats (and messages) that are gone, once each."""
    gone = len(doomed) - Chat.objects.filter(pk__in=doomed).count()
    records = _records()
    assert all(r.counts["chats"] > 0 for r in records)
    assert sum(r.counts["chats"] for r in records) == gone
    assert sum(r.counts["messages"] for r in records) == gone
    assert sum(r.counts["files"] for r in records) == gone


def _assert_live_untouched(live: list[int], live_blobs: list[str]) -> None:
    assert Chat.objects.filter(pk__in=live).count() == len(live)
    assert Message.objects.filter(chat_id__in=live).count() == len(live)
    assert File.objects.filter(chat_id__in=live).count() == len(live)
    assert all(default_storage.exists(name) for name in live_blobs)


def test_a_worker_killed_in_the_middle_of_a_run_is_finished_by_the_next():
    doomed, doomed_blobs, live, live_blobs = _world(due=12)
    tasks.apply_retention.enqueue()
    slow = _env(TEST_STORAGE_BLOCK="0.5", OUTBOX_LEASE="1")
    first = _worker(slow)
    try:
        # Some batches committed, more to come: kill it between two of them.
        _until(lambda: len(_records()) >= 2, "two batches committed", first)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait(timeout=10)
    _until(_no_other_sessions, "the killed worker's sessions ended")

    remaining = Chat.objects.filter(pk__in=doomed).count()
    assert 0 < remaining < len(doomed)
    # Whole batches only: every chat is whole or gone, and the records say which.
    assert Message.objects.filter(chat_id__in=doomed).count() == remaining
    assert File.objects.filter(chat_id__in=doomed).count() == remaining
    _assert_records_match_the_deleted(doomed)
    _assert_live_untouched(live, live_blobs)
    # The dead worker's outbox rows wait out their lease; then the next run takes them.
    _until(lambda: not BlobRemoval.objects.exists() or effects.anything_due(), "the lease ended")

    tasks.apply_retention.enqueue()
    tasks.sweep_outbox.enqueue()
    _finish(_worker(_env(TEST_STORAGE_BLOCK="0")))

    assert not Chat.objects.filter(pk__in=doomed).exists()
    assert not Message.objects.filter(chat_id__in=doomed).exists()
    assert not File.objects.filter(chat_id__in=doomed).exists()
    _assert_records_match_the_deleted(doomed)
    assert not BlobRemoval.objects.exists()
    assert not any(default_storage.exists(name) for name in doomed_blobs)
    _assert_live_untouched(live, live_blobs)
    assert all(r.errors == [] for r in _records())


def test_two_workers_running_the_job_at_once_delete_each_chat_once():
    doomed, doomed_blobs, live, live_blobs = _world(due=20)
    tasks.apply_retention.enqueue()
    tasks.apply_retention.enqueue()
    env = _env(TEST_STORAGE_BLOCK="0.5")
    # One job each; the first is in its run (a batch committed) when the second starts.
    first = _worker(env, "--max-tasks", "1")
    _until(lambda: bool(_records()), "the first batch committed", first)
    second = _worker(env, "--max-tasks", "1")
    for worker in (first, second):
        _finish(worker)

    results = list(DBTaskResult.objects.filter(task_path="chats.tasks.apply_retention"))
    assert len(results) == 2 and all(r.status == "SUCCESSFUL" for r in results)
    assert results[0].worker_ids != results[1].worker_ids
    deleted = [result.return_value["counts"].get("chats", 0) for result in results]
    # Both deleted some: the runs overlapped, and together took each chat once.
    assert all(n > 0 for n in deleted), deleted
    assert sum(deleted) == len(doomed)
    assert not Chat.objects.filter(pk__in=doomed).exists()
    _assert_records_match_the_deleted(doomed)
    assert not any(default_storage.exists(name) for name in doomed_blobs)
    assert not BlobRemoval.objects.exists()
    _assert_live_untouched(live, live_blobs)
