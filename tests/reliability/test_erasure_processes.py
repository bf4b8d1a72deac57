"""An erasure in a real process whose storage refuses each blob removal once, finished
by a real worker: the receipt turns ``complete`` through the worker alone, and the
storage itself — asked for the blob names read before the erasure — has none left.

Both processes run on the pytest PostgreSQL database (data committed:
``transactional_db``) and the test's media folder, with tests/storages.py's
``RefusingOnceStorage`` (through tests/process_settings.py).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from django.conf import settings
from django.core.files.storage import default_storage

from chats import tasks
from chats.models import BlobRemoval
from neptun.erasure import receipt
from neptun.models import Erasure, User
from tests.factories import ChatFactory, CollectionFactory, FileFactory, UserFactory
from tests.servers import REPO, server_env

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

WAIT = 60  # seconds, at most, for a process


def _run(args: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        timeout=WAIT,
        check=False,
    )
    out = done.stdout.decode(errors="replace")
    assert done.returncode == 0, out[-3000:] + done.stderr.decode(errors="replace")[-3000:]
    return out


def test_a_receipt_whose_removals_first_fail_completes_through_the_worker(tenant, tmp_path):
    person = UserFactory(tenant=tenant, email="refused.once@example.com")
    own = CollectionFactory(owner=person)
    chats = [ChatFactory(owner=person) for _ in range(2)]
    blobs = [FileFactory(owner=person, chat=chat).blob.name for chat in chats]
    blobs.append(FileFactory(owner=person, collection=own).blob.name)
    bystander = FileFactory(owner=UserFactory(tenant=tenant)).blob.name
    log = tmp_path / "refused.log"
    env = server_env(
        DJANGO_SETTINGS_MODULE="tests.process_settings",
        MEDIA_ROOT=str(settings.MEDIA_ROOT),
        TEST_STORAGE_BACKEND="tests.storages.RefusingOnceStorage",
        TEST_STORAGE_LOG=str(log),
        OUTBOX_RETRY_BASE="0",  # the retry is due at once
        OUTBOX_SWEEP_INTERVAL="0",  # only the sweep this test enqueues
        RETENTION_INTERVAL="0",
        ORPHAN_SWEEP_INTERVAL="0",
    )

    body = json.loads(_run(["erase_user", "--email", person.email, "--yes", "--json"], env))

    assert body["status"] == "pending"
    assert body["verification"]["blobs_remaining"] == len(blobs)
    assert sorted(log.read_text().split()) == sorted(blobs)  # each refused once
    assert all(default_storage.exists(name) for name in blobs)
    assert not User.objects.filter(email=person.email).exists()
    assert Erasure.objects.get().status == Erasure.Status.PENDING

    tasks.sweep_outbox.enqueue()
    _run(["worker", "--batch", "--no-startup-delay", "--no-reload"], env)

    # Read from the table, not through a door that refreshes it: the worker moved it.
    erasure = Erasure.objects.get()
    assert erasure.status == Erasure.Status.COMPLETE
    assert erasure.completed_at is not None
    assert receipt(erasure)["verification"] == {
        "rows_referencing_user": 0,
        "records_naming_email": 0,
        "blobs_remaining": 0,
        "verified": True,
    }
    assert not any(default_storage.exists(name) for name in blobs)
    assert default_storage.exists(bystander)
    assert not BlobRemoval.objects.exists()
    assert erasure.record is not None and erasure.record.errors == []
