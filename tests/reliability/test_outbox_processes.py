"""The outbox across real processes (PostgreSQL): a server killed between its commit
and its blob removals, and two workers sharing one outbox.

The server is a real daphne process and the workers real ``manage.py worker``
processes, all on the pytest PostgreSQL database (data committed:
``transactional_db``) and the test's media folder. Their storage comes from
tests/storages.py through tests/process_settings.py: one that hangs in ``delete``, so
the server is caught after its commit, and one that logs every ``delete`` call, so a
test can count them across processes.
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
from django.conf import settings
from django.core.files.storage import default_storage

from chats.deletion import effects
from chats.models import BlobRemoval, Chat
from collections_app.models import File
from neptun.models import AccessToken, DeletionRecord
from tests.factories import ChatFactory, CollectionFactory, FileFactory, UserFactory
from tests.servers import REPO, daphne, serve, server_env

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

WAIT = 60  # seconds, at most, for anything the test waits on


def _env(**extra: str) -> dict[str, str]:
    return server_env(
        DJANGO_SETTINGS_MODULE="tests.process_settings",
        MEDIA_ROOT=str(settings.MEDIA_ROOT),
        **extra,
    )


def _worker(env: dict[str, str]) -> subprocess.Popen:
    """``manage.py worker --batch``: enqueue what is due, run every task, exit."""
    return subprocess.Popen(
        [sys.executable, "manage.py", "worker", "--batch", "--no-startup-delay", "--no-reload"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def _finish(process: subprocess.Popen) -> str:
    out, _ = process.communicate(timeout=WAIT)
    text = out.decode(errors="replace")
    assert process.returncode == 0, text[-3000:]
    return text


def _until(condition, what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {WAIT}s")
        time.sleep(0.05)


def test_server_killed_between_commit_and_removal_loses_no_blob(tmp_path):
    user = UserFactory()
    chats = [ChatFactory(owner=user) for _ in range(3)]
    own = [FileFactory(owner=user, chat=chat) for chat in chats for _ in range(2)]
    collection = CollectionFactory(owner=UserFactory())
    live = [
        FileFactory(owner=collection.owner, collection=collection),
        FileFactory(owner=UserFactory()),
    ]
    doomed = [f.blob.name for f in own]
    token = AccessToken.generate(user=user)[1]

    env = _env(TEST_STORAGE_BACKEND="tests.storages.BlockingStorage", OUTBOX_LEASE="2")
    with serve(daphne, env, kill=True) as (address, process):

        def delete() -> None:
            with contextlib.suppress(requests.RequestException):  # it dies under us
                requests.delete(
                    f"http://{address}/api/chat/conversations/all",
                    headers={"Authorization": f"Bearer {token}"},
                    timeout=WAIT,
                )

        threading.Thread(target=delete, daemon=True).start()
        # Committed: the chats are gone and the outbox holds their blobs, while the
        # server hangs in its first storage call.
        _until(
            lambda: (
                not Chat.objects.filter(owner=user).exists()
                and BlobRemoval.objects.count() == len(doomed)
            ),
            "the deletion committed",
        )
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)

    assert all(default_storage.exists(name) for name in doomed)  # nothing removed yet
    record = DeletionRecord.objects.get()
    assert record.counts["blobs"] == len(doomed)  # what the deletion expected to remove
    # The dead server's lease runs out; then the worker finishes its job.
    _until(lambda: effects.anything_due(), "the lease ran out")
    log = tmp_path / "deletes.log"
    _finish(
        _worker(
            _env(TEST_STORAGE_BACKEND="tests.storages.RecordingStorage", TEST_STORAGE_LOG=str(log))
        )
    )

    assert not any(default_storage.exists(name) for name in doomed)
    assert sorted(log.read_text().split()) == sorted(doomed)  # no blob of a live row
    for file in live:
        assert File.objects.filter(pk=file.pk).exists()
        assert default_storage.exists(file.blob.name)
    assert not BlobRemoval.objects.exists()
    record.refresh_from_db()
    assert record.counts["blobs"] == len(doomed)
    assert record.errors == []


def test_two_workers_on_one_database_remove_each_blob_once(tmp_path):
    files = [FileFactory(owner=UserFactory()) for _ in range(2)]
    names = []
    for i in range(300):
        name = f"uploads/outbox/{i}.txt"
        names.append(default_storage.save(name, FileFactory.build().blob))
    # Rows of a deletion whose process is gone (no lease), plus one for a live blob.
    BlobRemoval.objects.bulk_create(BlobRemoval(name=name) for name in names)
    BlobRemoval.objects.create(name=files[0].blob.name)
    from chats import tasks

    tasks.sweep_outbox.enqueue()
    tasks.sweep_outbox.enqueue()  # two jobs, so both workers have one at the same time

    log = tmp_path / "deletes.log"
    env = _env(
        TEST_STORAGE_BACKEND="tests.storages.RecordingStorage",
        TEST_STORAGE_LOG=str(log),
        DELETION_BLOB_CHUNK_SIZE="10",  # many small claims, so the two interleave
        OUTBOX_SWEEP_INTERVAL="0",  # only the two jobs above
    )
    workers = [_worker(env), _worker(env)]
    for worker in workers:
        _finish(worker)

    calls = log.read_text().split()
    assert sorted(calls) == sorted(names)  # each once, and never the live one
    assert not any(default_storage.exists(name) for name in names)
    assert all(default_storage.exists(f.blob.name) for f in files)
    assert not BlobRemoval.objects.exists()
    assert Path(settings.MEDIA_ROOT).is_dir()
