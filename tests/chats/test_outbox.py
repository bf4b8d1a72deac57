"""The outbox of blob removals (chats/deletion/effects.py) and the worker's schedule.

In-process tests, on SQLite and PostgreSQL; tests/reliability/test_outbox_processes.py
runs the same guarantees across real server and worker processes.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from chats import services
from chats.deletion import effects, schedule
from chats.models import BlobRemoval, Chat
from neptun.models import DeletionRecord
from tests.factories import ChatFactory, FileFactory

pytestmark = pytest.mark.django_db


def ctx(actor=None):
    return services.DeletionContext(actor=actor, interface="api", endpoint="test")


class Flaky:
    """``default_storage.delete`` that refuses the first ``failures`` calls per name."""

    def __init__(self, monkeypatch, failures: int) -> None:
        self.failures = failures
        self.calls: dict[str, int] = {}
        self._real = default_storage.delete
        monkeypatch.setattr(default_storage, "delete", self)

    def __call__(self, name: str) -> None:
        self.calls[name] = self.calls.get(name, 0) + 1
        if self.calls[name] <= self.failures:
            raise OSError("storage unavailable")
        self._real(name)


def _due_now():
    """Move every row's backoff and lease into the past (the clock moved on)."""
    past = timezone.now() - timedelta(seconds=1)
    BlobRemoval.objects.update(not_before=past, claimed_until=None)


def test_a_deletion_writes_its_outbox_row_in_its_own_transaction(user):
    chat = ChatFactory(owner=user)
    blob = FileFactory(owner=user, chat=chat).blob.name

    class Abort(Exception):
        pass

    with pytest.raises(Abort), transaction.atomic():
        result = services.chat_delete(chat=chat, ctx=ctx(user))
        row = BlobRemoval.objects.get()
        assert (row.name, row.record_id, row.attempts) == (blob, result.record_id, 0)
        raise Abort

    # Rolled back with the deletion: no row, nothing removed.
    assert not BlobRemoval.objects.exists()
    assert Chat.objects.filter(pk=chat.pk).exists()
    assert default_storage.exists(blob)


def test_after_commit_the_process_removes_the_blob_and_the_row(
    user, django_capture_on_commit_callbacks
):
    chat = ChatFactory(owner=user)
    blob = FileFactory(owner=user, chat=chat).blob.name
    with django_capture_on_commit_callbacks(execute=True):
        result = services.chat_delete(chat=chat, ctx=ctx(user))
    assert result.counts["blobs"] == 1
    assert not default_storage.exists(blob)
    assert not BlobRemoval.objects.exists()


def test_storage_failing_twice_then_succeeding_ends_removed_and_recorded(
    user, monkeypatch, django_capture_on_commit_callbacks, settings
):
    settings.OUTBOX_RETRY_BASE = 10
    flaky = Flaky(monkeypatch, failures=2)
    chat = ChatFactory(owner=user)
    blob = FileFactory(owner=user, chat=chat).blob.name

    with django_capture_on_commit_callbacks(execute=True):
        result = services.chat_delete(chat=chat, ctx=ctx(user))
    # First try, in the request: refused, reported, left for the worker.
    assert result.counts["blobs"] == 0
    assert result.errors == [
        {
            "kind": "blob",
            "blob": blob,
            "error": "OSError: storage unavailable",
            "action": effects.RETRY_ACTION,
        }
    ]
    row = BlobRemoval.objects.get()
    assert row.attempts == 1 and not row.failed
    assert row.not_before >= timezone.now() + timedelta(seconds=8)  # backoff
    record = DeletionRecord.objects.get(pk=result.record_id)
    assert record.counts["blobs"] == 0 and record.errors == result.errors

    # Before the backoff is over the worker leaves it alone.
    assert effects.sweep().as_dict() == {"removed": 0, "kept": 0, "failed": 0}
    assert flaky.calls[blob] == 1

    _due_now()
    assert effects.sweep().as_dict() == {"removed": 0, "kept": 0, "failed": 1}  # second refusal
    row.refresh_from_db()
    assert row.attempts == 2
    assert row.not_before >= timezone.now() + timedelta(seconds=18)  # doubled

    _due_now()
    assert effects.sweep().as_dict() == {"removed": 1, "kept": 0, "failed": 0}
    assert flaky.calls[blob] == 3
    assert not default_storage.exists(blob)
    assert not BlobRemoval.objects.exists()
    record.refresh_from_db()
    assert record.counts["blobs"] == 1
    assert record.errors == []


def test_the_worker_gives_up_after_the_cap_and_says_so(
    user, monkeypatch, django_capture_on_commit_callbacks, settings
):
    settings.OUTBOX_MAX_ATTEMPTS = 3
    Flaky(monkeypatch, failures=100)
    chat = ChatFactory(owner=user)
    blob = FileFactory(owner=user, chat=chat).blob.name
    with django_capture_on_commit_callbacks(execute=True):
        result = services.chat_delete(chat=chat, ctx=ctx(user))
    for _ in range(5):
        _due_now()
        effects.sweep()
    row = BlobRemoval.objects.get()
    assert row.failed and row.attempts == 3
    assert row.last_error == "OSError: storage unavailable"
    assert default_storage.exists(blob)
    record = DeletionRecord.objects.get(pk=result.record_id)
    assert record.errors == [
        {
            "kind": "blob",
            "blob": blob,
            "error": "OSError: storage unavailable",
            "action": effects.GAVE_UP_ACTION,
        }
    ]
    assert not effects.anything_due()


def test_a_blob_a_live_row_references_is_never_removed(user):
    live = FileFactory(owner=user)
    BlobRemoval.objects.create(name=live.blob.name)
    outcome = effects.sweep()
    assert (outcome.removed, outcome.kept) == (0, 1)
    assert default_storage.exists(live.blob.name)
    assert not BlobRemoval.objects.exists()


def test_a_fresh_row_is_left_to_its_process_until_its_lease_runs_out(
    user, django_capture_on_commit_callbacks
):
    chat = ChatFactory(owner=user)
    blob = FileFactory(owner=user, chat=chat).blob.name
    # The deletion commits, but its process never gets to the removal (as if killed).
    with django_capture_on_commit_callbacks(execute=False):
        services.chat_delete(chat=chat, ctx=ctx(user))
    assert BlobRemoval.objects.get().claimed_until > timezone.now()
    assert effects.sweep().removed == 0
    assert default_storage.exists(blob)

    BlobRemoval.objects.update(claimed_until=timezone.now() - timedelta(seconds=1))
    assert effects.anything_due()
    assert effects.sweep().removed == 1
    assert not default_storage.exists(blob)
    assert not BlobRemoval.objects.exists()


def test_a_counted_blob_the_worker_fails_on_is_taken_out_of_the_count_then_counted_once(
    user, monkeypatch, django_capture_on_commit_callbacks
):
    """The record counts the blobs its deletion expects to remove. When its process
    dies after commit and the worker's first try is refused, the record stops
    counting that blob; the retry that succeeds counts it again, once."""
    chat = ChatFactory(owner=user)
    blob = FileFactory(owner=user, chat=chat).blob.name
    with django_capture_on_commit_callbacks(execute=False):  # killed after commit
        result = services.chat_delete(chat=chat, ctx=ctx(user))
    record = DeletionRecord.objects.get(pk=result.record_id)
    assert record.counts["blobs"] == 1
    Flaky(monkeypatch, failures=1)

    _due_now()
    assert effects.sweep().as_dict() == {"removed": 0, "kept": 0, "failed": 1}
    record.refresh_from_db()
    assert record.counts["blobs"] == 0

    _due_now()
    assert effects.sweep().as_dict() == {"removed": 1, "kept": 0, "failed": 0}
    record.refresh_from_db()
    assert record.counts["blobs"] == 1
    assert record.errors == []
    assert not default_storage.exists(blob)


def test_a_removal_is_counted_once_when_two_passes_race_for_it(user):
    chat = ChatFactory(owner=user)
    blob = FileFactory(owner=user, chat=chat).blob.name
    chat.files.all().delete()
    created = BlobRemoval.objects.create(name=blob)
    row = effects.Row(created.pk, created.name, created.record_id)
    first, second = effects.Outcome(), effects.Outcome()
    effects._attempt([row], first)
    effects._attempt([row], second)  # the same claimed row, a moment later
    assert (first.removed, second.removed) == (1, 0)


def test_large_sets_go_through_the_scratch_table_and_are_read_back(
    user, django_capture_on_commit_callbacks, settings
):
    settings.DELETION_BLOB_CHUNK_SIZE = 3
    chats = [ChatFactory(owner=user) for _ in range(4)]
    blobs = [FileFactory(owner=user, chat=c).blob.name for c in chats for _ in range(2)]
    with django_capture_on_commit_callbacks(execute=True):
        result = services.chats_delete(chats=Chat.objects.filter(owner=user), ctx=ctx(user))
    assert result.counts["blobs"] == len(blobs) == 8
    assert not any(default_storage.exists(b) for b in blobs)
    assert not BlobRemoval.objects.exists()
    assert DeletionRecord.objects.get(pk=result.record_id).counts["blobs"] == 8


def test_the_schedule_enqueues_each_period_once(settings):
    settings.OUTBOX_SWEEP_INTERVAL = 30
    settings.ORPHAN_SWEEP_INTERVAL = 0
    BlobRemoval.objects.create(name="uploads/gone.txt", claimed_until=None)
    now = timezone.now()
    assert schedule.enqueue_due(now) == ["outbox-sweep"]
    # A second worker looking at the same moment, or a second later, enqueues nothing.
    assert schedule.enqueue_due(now) == []
    assert schedule.enqueue_due(now + timedelta(seconds=1)) == []
    assert schedule.enqueue_due(now + timedelta(seconds=31)) == ["outbox-sweep"]
    assert DBTaskResult.objects.filter(task_path="chats.tasks.sweep_outbox").count() == 2


def test_the_schedule_skips_a_sweep_with_nothing_to_do(settings):
    settings.OUTBOX_SWEEP_INTERVAL = 30
    settings.ORPHAN_SWEEP_INTERVAL = 0
    assert schedule.enqueue_due(timezone.now()) == []
    assert not DBTaskResult.objects.exists()


def test_the_orphan_sweep_is_a_daily_job_by_default(settings):
    settings.OUTBOX_SWEEP_INTERVAL = 0
    now = timezone.now()
    assert schedule.enqueue_due(now) == ["orphan-sweep"]
    assert schedule.enqueue_due(now + timedelta(hours=23)) == []
    assert schedule.enqueue_due(now + timedelta(hours=24)) == ["orphan-sweep"]


@pytest.mark.django_db(transaction=True)  # each batch of the sweep commits on its own
def test_the_orphan_sweep_job_removes_orphans_past_the_grace_period(user):
    from chats import tasks

    old = ChatFactory(owner=user, conversation_type=None)
    Chat.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=2))
    fresh = ChatFactory(owner=user, conversation_type=None)
    kept = ChatFactory(owner=user)
    summary = tasks.sweep_orphans.call()
    assert summary["removed"]["null-chats"] == 1
    assert set(Chat.objects.values_list("pk", flat=True)) == {fresh.pk, kept.pk}
    record = DeletionRecord.objects.get(pk=summary["record_id"])
    assert (record.interface, record.endpoint) == ("command", tasks.ORPHAN_SWEEP_ENDPOINT)


def _queue_through_scratch(record_id: int, names: list[str]) -> effects.Queued:
    """What a chunk of a large purge does with many blobs: names into the scratch
    table, then into the outbox in one statement."""
    from django.db import connection

    from chats.deletion import sql

    sql.create_blob_queue()
    with connection.cursor() as cursor:
        for name in names:
            cursor.execute(f"INSERT INTO {sql.SCRATCH_BLOBS} (name) VALUES (%s)", [name])
    queued = effects.Queued(checked=True)
    effects.queue_from_table(record_id=record_id, table=sql.SCRATCH_BLOBS, queued=queued)
    return queued


def test_a_chunk_reads_back_its_own_rows_not_an_earlier_chunks(user):
    """Two chunks of one purge share a record. The first chunk's rows are left
    (its pass was interrupted); the second chunk's pass removes the second chunk's
    blobs, and leaves the first's to the worker."""
    record = DeletionRecord.objects.create(interface="command", endpoint="test")
    first = [default_storage.save(f"left-{i}.txt", ContentFile(b"x")) for i in range(2)]
    _queue_through_scratch(record.pk, first)
    second = [default_storage.save(f"own-{i}.txt", ContentFile(b"x")) for i in range(2)]
    queued = _queue_through_scratch(record.pk, second)
    assert queued.from_table == 2
    outcome = effects.carry_out(record_id=record.pk, queued=queued)
    assert outcome.removed == 2
    assert not any(default_storage.exists(name) for name in second)
    assert all(default_storage.exists(name) for name in first)
    assert sorted(BlobRemoval.objects.values_list("name", flat=True)) == sorted(first)
