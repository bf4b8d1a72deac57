"""Retention: policies, temporary chats and runs, against a clock that moves."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.db import connection
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from chats import retention, tasks
from chats.creation import chat_create
from chats.deletion import schedule
from chats.models import Chat, ConversationType, Message
from collections_app.models import File
from neptun.exceptions import InvalidInput
from neptun.models import DeletionRecord, RetentionPolicy
from tests.factories import (
    ChatFactory,
    CollectionFactory,
    DeletionRecordFactory,
    FileFactory,
    MessageFactory,
    TenantFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


class Clock:
    """``timezone.now()`` for everything that asks it, moved by the test."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@pytest.fixture
def clock(monkeypatch) -> Clock:
    clock = Clock(timezone.now())
    monkeypatch.setattr(timezone, "now", clock)
    return clock


def set_policy(tenant, **values) -> None:
    retention.policy_set(tenant=tenant, data=values)


# --------------------------------------------------------------------------- policies


def test_a_tenant_without_a_policy_follows_the_instance_default(settings, tenant):
    settings.RETENTION_TEMPORARY_HOURS = 5
    settings.RETENTION_INACTIVE_DAYS = None
    policy = retention.policy_for(tenant=tenant)
    assert policy.temporary_hours == 5
    assert policy.inactive_days is None
    assert policy.source == "default"


def test_a_tenants_policy_keeps_what_a_change_leaves_out(tenant):
    set_policy(tenant, inactive_days=30)
    set_policy(tenant, temporary_hours=1, conversation_types=["regular", "null"])
    policy = retention.policy_for(tenant=tenant)
    assert policy.as_dict() == {
        "inactive_days": 30,
        "conversation_types": ["regular", "null"],
        "temporary_hours": 1,
        "record_days": None,
        "source": "tenant",
    }
    set_policy(tenant, inactive_days=None)  # keep forever
    assert retention.policy_for(tenant=tenant).inactive_days is None


@pytest.mark.parametrize(
    "data",
    [
        [],
        "forever",
        {"inactive_days": 0},
        {"inactive_days": -3},
        {"inactive_days": 1.5},
        {"inactive_days": "30"},
        {"inactive_days": True},
        {"temporary_hours": retention.MAX_HOURS + 1},
        {"record_days": retention.MAX_DAYS + 1},
        {"conversation_types": []},
        {"conversation_types": "regular"},
        {"conversation_types": ["regular", "nope"]},
        {"conversation_types": [None]},
        {"inactive_dayz": 30},
    ],
)
def test_an_invalid_policy_is_refused_and_changes_nothing(tenant, data):
    set_policy(tenant, inactive_days=90)
    before = list(RetentionPolicy.objects.values())
    with pytest.raises(InvalidInput):
        retention.policy_set(tenant=tenant, data=data)
    assert list(RetentionPolicy.objects.values()) == before


def test_a_policy_change_deletes_nothing(tenant):
    old = ChatFactory(owner=UserFactory(tenant=tenant))
    Chat.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=400))
    set_policy(tenant, inactive_days=1)
    assert Chat.objects.filter(pk=old.pk).exists()


# --------------------------------------------------------------------------- temporary chats


def test_a_temporary_chat_gets_its_expiry_from_the_policy(clock, tenant):
    set_policy(tenant, temporary_hours=3)
    owner = UserFactory(tenant=tenant)
    chat = chat_create(owner=owner, title="t", conversation_type=None, temporary=True)
    assert chat.temporary
    assert chat.expires_at == clock.now + timedelta(hours=3)
    regular = chat_create(owner=owner, title="r", conversation_type=None)
    assert regular.expires_at is None


def test_under_keep_forever_a_temporary_chat_never_expires(tenant):
    set_policy(tenant, temporary_hours=None)
    chat = chat_create(
        owner=UserFactory(tenant=tenant), title="", conversation_type=None, temporary=True
    )
    assert chat.temporary and chat.expires_at is None


def test_an_expired_chat_is_invisible_before_any_run(clock, tenant):
    set_policy(tenant, temporary_hours=1)
    chat = chat_create(
        owner=UserFactory(tenant=tenant), title="", conversation_type=None, temporary=True
    )
    assert Chat.objects.visible().filter(pk=chat.pk).exists()
    clock.advance(minutes=59)
    assert Chat.objects.visible().filter(pk=chat.pk).exists()
    clock.advance(minutes=1)
    assert not Chat.objects.visible().filter(pk=chat.pk).exists()
    assert Chat.objects.filter(pk=chat.pk).exists()  # the rows wait for the run


# --------------------------------------------------------------------------- runs


def test_inactive_conversations_go_by_their_last_message(clock, tenant):
    set_policy(tenant, inactive_days=30)
    owner = UserFactory(tenant=tenant)
    start = clock.now
    quiet = ChatFactory(owner=owner, created_at=start)
    MessageFactory(chat=quiet, created_at=start)
    talked = ChatFactory(owner=owner, created_at=start)
    MessageFactory(chat=talked, created_at=start + timedelta(days=20))
    empty = ChatFactory(owner=owner, created_at=start)
    fresh_empty = ChatFactory(owner=owner, created_at=start + timedelta(days=25))

    clock.advance(days=31)
    report = retention.retention_apply(dry_run=False)

    assert set(Chat.objects.values_list("pk", flat=True)) == {talked.pk, fresh_empty.pk}
    assert not Chat.objects.filter(pk__in=[quiet.pk, empty.pk]).exists()
    assert report.counts["chats"] == 2
    assert report.counts["messages"] == 1
    clock.advance(days=20)  # now the last message of ``talked`` is 31 days old
    retention.retention_apply(dry_run=False)
    assert set(Chat.objects.values_list("pk", flat=True)) == {fresh_empty.pk}


def test_a_policy_of_some_types_leaves_the_others(clock, tenant):
    set_policy(tenant, inactive_days=1, conversation_types=["user_files", "null"])
    owner = UserFactory(tenant=tenant)
    kept = ChatFactory(owner=owner, conversation_type=ConversationType.REGULAR)
    ChatFactory(owner=owner, conversation_type=ConversationType.USER_FILES)
    ChatFactory(owner=owner, conversation_type=None)
    clock.advance(days=2)
    retention.retention_apply(dry_run=False)
    assert list(Chat.objects.values_list("pk", flat=True)) == [kept.pk]


def test_each_tenant_has_its_own_policy(clock, settings):
    settings.RETENTION_INACTIVE_DAYS = None
    strict, lax = TenantFactory(), TenantFactory()
    set_policy(strict, inactive_days=1)
    gone = ChatFactory(owner=UserFactory(tenant=strict))
    kept = ChatFactory(owner=UserFactory(tenant=lax))
    no_tenant = ChatFactory(owner=UserFactory(tenant=None))
    clock.advance(days=5)
    retention.retention_apply(dry_run=False)
    assert not Chat.objects.filter(pk=gone.pk).exists()
    assert Chat.objects.filter(pk__in=[kept.pk, no_tenant.pk]).count() == 2
    settings.RETENTION_INACTIVE_DAYS = 2  # the instance default covers lax and no tenant
    retention.retention_apply(dry_run=False)
    assert not Chat.objects.exists()


def test_expired_temporary_chats_go_with_their_files(
    clock, tenant, django_capture_on_commit_callbacks
):
    set_policy(tenant, temporary_hours=1)
    owner = UserFactory(tenant=tenant)
    chat = chat_create(owner=owner, title="", conversation_type=None, temporary=True)
    MessageFactory(chat=chat)
    collection = CollectionFactory(owner=owner)
    own = FileFactory(owner=owner, chat=chat)
    in_collection = FileFactory(owner=owner, chat=chat, collection=collection)
    blob = own.blob.name
    assert default_storage.exists(blob)

    clock.advance(hours=1)
    with django_capture_on_commit_callbacks(execute=True):
        report = retention.retention_apply(dry_run=False)

    assert not Chat.objects.filter(pk=chat.pk).exists()
    assert not Message.objects.exists()
    assert not File.objects.filter(pk=own.pk).exists()
    assert not default_storage.exists(blob)
    assert File.objects.get(pk=in_collection.pk).chat_id is None  # collections stay
    record = DeletionRecord.objects.get(pk=report.scopes[0].record_ids[0])
    assert record.interface == DeletionRecord.Interface.RETENTION
    assert record.tenant == tenant
    assert record.policy["temporary_hours"] == 1
    assert record.counts["chats"] == 1
    assert record.counts["blobs"] == 1


def test_a_dry_run_counts_what_a_run_deletes_and_deletes_nothing(clock, tenant):
    set_policy(tenant, inactive_days=1)
    owner = UserFactory(tenant=tenant)
    for _ in range(3):
        MessageFactory.create_batch(2, chat=ChatFactory(owner=owner))
    clock.advance(days=2)
    dry = retention.retention_apply(dry_run=True, tenant=tenant)
    assert Chat.objects.count() == 3
    assert not DeletionRecord.objects.exists()
    done = retention.retention_apply(dry_run=False, tenant=tenant)
    assert dry.counts == done.counts
    assert done.counts["chats"] == 3 and done.counts["messages"] == 6


def test_old_deletion_records_are_pruned(clock, tenant):
    set_policy(tenant, record_days=10)
    actor = UserFactory(tenant=tenant)
    old = DeletionRecordFactory(actor=actor, created_at=clock.now - timedelta(days=11))
    recent = DeletionRecordFactory(actor=actor, created_at=clock.now - timedelta(days=9))
    other_tenant = DeletionRecordFactory(
        actor=UserFactory(), created_at=clock.now - timedelta(days=11)
    )
    report = retention.retention_apply(dry_run=False)
    assert not DeletionRecord.objects.filter(pk=old.pk).exists()
    assert DeletionRecord.objects.filter(pk__in=[recent.pk, other_tenant.pk]).count() == 2
    assert report.counts["deletion_records"] == 1
    pruning = DeletionRecord.objects.get(interface=DeletionRecord.Interface.RETENTION)
    assert pruning.counts == {"deletion_records": 1}


def test_runs_go_in_batches_each_with_its_record(clock, tenant, settings):
    settings.RETENTION_BATCH_CHATS = 2
    set_policy(tenant, inactive_days=1)
    owner = UserFactory(tenant=tenant)
    ChatFactory.create_batch(5, owner=owner)
    clock.advance(days=2)
    report = retention.retention_apply(dry_run=False)
    records = DeletionRecord.objects.filter(interface=DeletionRecord.Interface.RETENTION)
    assert sorted(r.counts["chats"] for r in records) == [1, 2, 2]
    assert report.counts["chats"] == 5
    assert not Chat.objects.exists()


def test_an_interrupted_run_is_resumed_by_the_next(clock, tenant, settings, monkeypatch):
    settings.RETENTION_BATCH_CHATS = 2
    set_policy(tenant, inactive_days=1)
    owner = UserFactory(tenant=tenant)
    chats = ChatFactory.create_batch(5, owner=owner)
    for chat in chats:
        MessageFactory(chat=chat)
    clock.advance(days=2)
    real = retention.chats_delete
    calls = []

    def dies_on_the_second_batch(**kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise SystemExit("worker killed")
        return real(**kwargs)

    monkeypatch.setattr(retention, "chats_delete", dies_on_the_second_batch)
    with pytest.raises(SystemExit):
        retention.retention_apply(dry_run=False)
    assert Chat.objects.count() == 3  # the first batch committed, the second rolled back
    monkeypatch.setattr(retention, "chats_delete", real)

    retention.retention_apply(dry_run=False)
    assert not Chat.objects.exists()
    records = DeletionRecord.objects.filter(interface=DeletionRecord.Interface.RETENTION)
    assert sum(r.counts["chats"] for r in records) == 5
    assert sum(r.counts["messages"] for r in records) == 5


@pytest.mark.django_db(transaction=True)
def test_two_workers_running_at_once_delete_each_chat_once(settings):
    settings.RETENTION_BATCH_CHATS = 3
    tenant = TenantFactory()
    set_policy(tenant, inactive_days=1)
    owner = UserFactory(tenant=tenant)
    ChatFactory.create_batch(12, owner=owner, created_at=timezone.now() - timedelta(days=3))
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def worker() -> None:
        try:
            start.wait(timeout=10)
            tasks.apply_retention.call()
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    assert not Chat.objects.exists()
    records = DeletionRecord.objects.filter(interface=DeletionRecord.Interface.RETENTION)
    assert sum(r.counts["chats"] for r in records) == 12
    assert all(r.counts["chats"] > 0 for r in records)


def test_the_periodic_job_runs_hourly_when_there_is_something_to_do(clock, tenant, settings):
    settings.OUTBOX_SWEEP_INTERVAL = 0
    settings.ORPHAN_SWEEP_INTERVAL = 0
    settings.RETENTION_INTERVAL = 3600
    assert schedule.enqueue_due(clock.now) == []  # nothing due: no empty run
    set_policy(tenant, temporary_hours=1)
    chat_create(owner=UserFactory(tenant=tenant), title="", conversation_type=None, temporary=True)
    later = clock.advance(hours=1)
    assert schedule.enqueue_due(later) == ["retention"]
    assert schedule.enqueue_due(later + timedelta(minutes=59)) == []
    assert DBTaskResult.objects.filter(task_path="chats.tasks.apply_retention").count() == 1
    assert tasks.apply_retention.call()["counts"]["chats"] == 1
    assert not Chat.objects.exists()


# --------------------------------------------------------------------------- the command


def test_apply_retention_is_a_dry_run_without_yes(clock, tenant, capsys):
    set_policy(tenant, inactive_days=1)
    ChatFactory(owner=UserFactory(tenant=tenant))
    clock.advance(days=2)
    call_command("apply_retention", "--tenant", tenant.name)
    out = capsys.readouterr().out
    assert "Would delete" in out and "1 chats" in out
    assert Chat.objects.count() == 1
    call_command("apply_retention", "--tenant", tenant.name, "--yes", "--json")
    assert '"chats": 1' in capsys.readouterr().out
    assert not Chat.objects.exists()


def test_apply_retention_refuses_an_unknown_tenant():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("apply_retention", "--tenant", "nobody")
