"""Big admin purges run as background jobs whose deletion record shows their state
and progress; an interrupted one is resumed (neptun/admin_jobs.py)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.core.files.storage import default_storage
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from chats import tasks
from chats.deletion import schedule
from chats.models import Chat, Message
from collections_app.models import File
from neptun import admin_jobs
from neptun.admin import ConversationFlagsForm
from neptun.models import DeletionRecord, User
from tests.admin.test_actions import confirm_post
from tests.factories import ChatFactory, FileFactory, MessageFactory, UserFactory

# Jobs commit batch by batch and enqueue after commit.
pytestmark = pytest.mark.django_db(transaction=True)

CHATS_URL = "/admin/chats/chat/"


@pytest.fixture
def big(settings):
    """Anything over 10 rows is a job, and purges go in batches of 2 chats."""
    settings.DELETION_JOB_THRESHOLD = 10
    settings.DELETION_BATCH_THRESHOLD = 1
    settings.DELETION_BATCH_CHATS = 2


def _chats(owner, n=6):
    chats = [ChatFactory(owner=owner) for _ in range(n)]
    for chat in chats:
        MessageFactory.create_batch(3, chat=chat)
    blobs = [FileFactory(owner=owner, chat=chat).blob.name for chat in chats]
    return chats, blobs


def _enqueued_runs() -> list[int]:
    return [
        task.args_kwargs["args"][0]
        for task in DBTaskResult.objects.filter(task_path="chats.tasks.run_deletion_job")
    ]


def test_a_big_purge_is_queued_then_runs_on_the_worker_with_progress(
    big, superuser_client, monkeypatch
):
    owner = UserFactory()
    chats, blobs = _chats(owner)
    other = ChatFactory()
    ids = [c.pk for c in chats]
    response = confirm_post(superuser_client, CHATS_URL, "delete_selected", ids)
    assert response.status_code == 302
    record = DeletionRecord.objects.get()
    page = superuser_client.get(response["Location"]).content.decode()
    assert "runs as a background job" in page
    assert f"/admin/neptun/deletionrecord/{record.pk}/change/" in page
    # Nothing deleted in the request: the record is queued with what to delete.
    assert record.state == DeletionRecord.State.QUEUED
    assert record.job["ids"] == sorted(ids) and record.job["action"] == "delete_selected"
    assert Chat.objects.filter(pk__in=ids).count() == 6
    assert _enqueued_runs() == [record.pk]

    seen: list[dict] = []
    real_filter = DeletionRecord.objects.filter

    def watch(*args, **kwargs):  # the record as the job leaves it at each step
        if kwargs.get("pk") == record.pk:
            seen.append(real_filter(pk=record.pk).values("state", "progress").get())
        return real_filter(*args, **kwargs)

    monkeypatch.setattr(DeletionRecord.objects, "filter", watch)
    outcome = tasks.run_deletion_job.call(record.pk)
    monkeypatch.undo()
    assert outcome["counts"]["chats"] == 6
    record.refresh_from_db()
    assert record.state == DeletionRecord.State.DONE and record.finished_at is not None
    assert record.counts["chats"] == 6 and record.counts["messages"] == 18
    assert record.counts["files"] == 6 and record.counts["blobs"] == 6
    assert record.progress["done"] == record.progress["total"] > 1  # it went in batches
    assert any(s["state"] == "running" and s["progress"].get("done") for s in seen)
    assert not Chat.objects.filter(pk__in=ids).exists()
    assert not Message.objects.filter(chat_id__in=ids).exists()
    assert not any(default_storage.exists(b) for b in blobs)
    assert Chat.objects.filter(pk=other.pk).exists()
    # The record list shows the state.
    page = superuser_client.get("/admin/neptun/deletionrecord/").content.decode()
    assert "Done" in page


def test_a_small_purge_still_runs_in_the_request(big, superuser_client, settings):
    settings.DELETION_JOB_THRESHOLD = 1000
    owner = UserFactory()
    chats, _ = _chats(owner, n=2)
    confirm_post(superuser_client, CHATS_URL, "delete_selected", [c.pk for c in chats])
    assert not Chat.objects.filter(owner=owner).exists()
    assert DeletionRecord.objects.get().state == DeletionRecord.State.DONE
    assert _enqueued_runs() == []


def test_the_users_conversations_action_runs_as_a_job_too(big, superuser_client):
    owner = UserFactory()
    _chats(owner)
    response = confirm_post(
        superuser_client,
        "/admin/neptun/user/",
        "delete_conversations",
        [owner.pk],
        delete_files_and_collections="on",
        delete_regular_chats="on",
        delete_user_file_conversations="on",
        delete_global_collection_conversations="on",
        delete_null_conversations="on",
        _neptun_previewed='{"delete_files_and_collections": true, '
        '"delete_global_collection_conversations": true, "delete_null_conversations": true, '
        '"delete_regular_chats": true, "delete_user_file_conversations": true}',
    )
    assert response.status_code == 302
    record = DeletionRecord.objects.get()
    assert record.state == DeletionRecord.State.QUEUED
    tasks.run_deletion_job.call(record.pk)
    record.refresh_from_db()
    assert record.state == DeletionRecord.State.DONE
    assert record.counts["chats"] == 6
    assert not Chat.objects.filter(owner=owner).exists()
    assert User.objects.filter(pk=owner.pk).exists()


def test_the_conversations_of_several_users_run_as_one_job_with_one_record(big, superuser_client):
    """A job's record is the one the staff member follows: it holds the whole
    deletion's counts (no per-user record beside it)."""
    owners = [UserFactory(), UserFactory()]
    blobs = [name for owner in owners for name in _chats(owner, n=3)[1]]
    bystander = UserFactory()
    _chats(bystander, n=1)
    flags = {name: "on" for name in ConversationFlagsForm.base_fields}
    response = confirm_post(
        superuser_client,
        "/admin/neptun/user/",
        "delete_conversations",
        [owner.pk for owner in owners],
        _neptun_previewed=json.dumps(dict.fromkeys(flags, True), sort_keys=True),
        **flags,
    )
    assert response.status_code == 302
    record = DeletionRecord.objects.get()
    assert record.state == DeletionRecord.State.QUEUED
    tasks.run_deletion_job.call(record.pk)
    record.refresh_from_db()
    assert record.state == DeletionRecord.State.DONE
    assert record.counts["chats"] == 6 and record.counts["messages"] == 18
    assert record.counts["files"] == 6 and record.counts["blobs"] == 6
    assert record.progress == {"done": 1, "total": 1}
    assert DeletionRecord.objects.count() == 1
    assert not Chat.objects.filter(owner__in=owners).exists()
    assert Chat.objects.filter(owner=bystander).count() == 1
    assert not any(default_storage.exists(name) for name in blobs)


def test_an_interrupted_job_is_resumed_once_and_adds_up(big, superuser_client, settings):
    settings.DELETION_JOB_STALE_AFTER = 60
    owner = UserFactory()
    chats, _ = _chats(owner)
    ids = [c.pk for c in chats]
    confirm_post(superuser_client, CHATS_URL, "delete_selected", ids)
    record = DeletionRecord.objects.get()
    # As if a worker had committed the first batch (two chats) and then died.
    first = ids[:2]
    Message.objects.filter(chat_id__in=first).delete()
    File.objects.filter(chat_id__in=first).delete()
    Chat.objects.filter(pk__in=first).delete()
    long_ago = timezone.now() - timedelta(minutes=5)
    DeletionRecord.objects.filter(pk=record.pk).update(
        state=DeletionRecord.State.RUNNING,
        heartbeat_at=long_ago,
        progress={"done": 1, "total": 4},
        counts={"chats": 2, "messages": 6, "files": 2, "blobs": 2},
    )
    # A run elsewhere whose heartbeat is fresh is left alone.
    DeletionRecord.objects.filter(pk=record.pk).update(heartbeat_at=timezone.now())
    assert tasks.run_deletion_job.call(record.pk)["skipped"]
    assert admin_jobs.resume_stale() == []
    DeletionRecord.objects.filter(pk=record.pk).update(heartbeat_at=long_ago)

    # The periodic job notices the stopped run and enqueues it again, once.
    DBTaskResult.objects.all().delete()
    settings.OUTBOX_SWEEP_INTERVAL = 0
    settings.ORPHAN_SWEEP_INTERVAL = 0
    assert schedule.enqueue_due(timezone.now()) == ["resume-deletion-jobs"]
    assert tasks.resume_deletion_jobs.call() == [record.pk]
    assert _enqueued_runs() == [record.pk]
    tasks.run_deletion_job.call(record.pk)
    assert tasks.run_deletion_job.call(record.pk)["skipped"]  # a second run: nothing to do

    record.refresh_from_db()
    assert record.state == DeletionRecord.State.DONE
    assert record.counts["chats"] == 6 and record.counts["messages"] == 18
    assert not Chat.objects.filter(pk__in=ids).exists()


def test_a_job_that_fails_says_so_on_its_record(big, superuser_client, monkeypatch):
    owner = UserFactory()
    chats, _ = _chats(owner)
    confirm_post(superuser_client, CHATS_URL, "delete_selected", [c.pk for c in chats])
    record = DeletionRecord.objects.get()

    def broken(**kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr("chats.services.chats_delete", broken)
    with pytest.raises(RuntimeError):
        tasks.run_deletion_job.call(record.pk)
    record.refresh_from_db()
    assert record.state == DeletionRecord.State.FAILED
    assert record.errors[-1] == {"kind": "job", "error": "RuntimeError: database went away"}
    assert Chat.objects.filter(owner=owner).count() == 6


def test_the_confirmation_pages_own_count_decides_and_a_forged_one_is_ignored(
    big, superuser_client
):
    from tests.admin.test_actions import action_post

    owner = UserFactory()
    chats, _ = _chats(owner)
    ids = [c.pk for c in chats]
    page = action_post(superuser_client, CHATS_URL, "delete_selected", ids)
    signed = page.context["previewed_rows"]
    # A forged count (unsigned) cannot make a big deletion run in the request.
    confirm_post(superuser_client, CHATS_URL, "delete_selected", ids, _neptun_rows='{"{}": 1}')
    assert DeletionRecord.objects.get().state == DeletionRecord.State.QUEUED
    DeletionRecord.objects.all().delete()
    confirm_post(superuser_client, CHATS_URL, "delete_selected", ids, _neptun_rows=signed)
    assert DeletionRecord.objects.get().state == DeletionRecord.State.QUEUED
    assert Chat.objects.filter(pk__in=ids).count() == 6
