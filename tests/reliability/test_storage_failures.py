"""Storage refusing to remove blobs during a deletion: the rows are gone, the error is
reported (response where the dialect has a place for it, audit record, log), the
blobs stay in storage, and ``cleanup_orphans`` removes them later."""

from __future__ import annotations

import io
import json
import os
import time

import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command
from rest_framework.test import APIClient

from collections_app.models import File
from neptun.models import AccessToken, DeletionRecord
from tests.factories import ChatFactory, FileFactory, UserFactory
from tests.security.conftest import login

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def refusing_storage(monkeypatch):
    """Storage that refuses to delete any blob (a read-only bucket, a network error)."""

    def refuse(name):
        raise OSError(f"storage unavailable: {name}")

    monkeypatch.setattr(default_storage, "delete", refuse)


def _age(name: str) -> None:
    """Make a blob look two days old, past cleanup_orphans' grace period."""
    path = default_storage.path(name)
    old = time.time() - 2 * 86400
    os.utime(path, (old, old))


def _cleanup_orphans() -> dict:
    out = io.StringIO()
    call_command("cleanup_orphans", "--yes", "--only", "orphan-blobs", "--json", stdout=out)
    return json.loads(out.getvalue())


def _assert_left_for_cleanup(blobs: list[str], monkeypatch) -> None:
    for name in blobs:
        assert default_storage.exists(name), name
        _age(name)
    monkeypatch.undo()  # storage works again
    _cleanup_orphans()
    for name in blobs:
        assert not default_storage.exists(name), name


def test_chat_delete_with_storage_down(refusing_storage, monkeypatch):
    user = UserFactory()
    chat = ChatFactory(owner=user)
    files = FileFactory.create_batch(2, owner=user, chat=chat)
    blobs = [f.blob.name for f in files]
    response = login(user).delete(f"/api/users/{user.pk}/chats/{chat.pk}")
    assert response.status_code == 200
    assert response.json() is True
    assert not File.objects.filter(pk__in=[f.pk for f in files]).exists()
    record = DeletionRecord.objects.get()
    assert sorted(error["blob"] for error in record.errors) == sorted(blobs)
    # The outbox keeps them for the worker's retries; cleanup_orphans stays the last resort.
    assert all("the worker retries" in error["action"] for error in record.errors)
    _assert_left_for_cleanup(blobs, monkeypatch)


def test_conversations_delete_reports_storage_errors(refusing_storage, monkeypatch):
    user = UserFactory()
    token = AccessToken.generate(user=user)[1]
    chat = ChatFactory(owner=user)
    files = FileFactory.create_batch(3, owner=user, chat=chat)
    blobs = [f.blob.name for f in files]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    response = client.delete("/api/chat/conversations/all", {}, format="json")
    assert response.status_code == 200, response.content
    stats = response.json()["deleted_stats"]
    assert stats["files_deleted"] == 3
    assert len(stats["errors"]) == 3, stats
    assert not File.objects.filter(owner=user).exists()
    assert len(DeletionRecord.objects.get().errors) == 3
    _assert_left_for_cleanup(blobs, monkeypatch)


def test_partial_storage_failure_removes_the_other_blobs(monkeypatch):
    user = UserFactory()
    chat = ChatFactory(owner=user)
    files = FileFactory.create_batch(3, owner=user, chat=chat)
    stuck = files[0].blob.name
    real_delete = default_storage.delete

    def flaky(name):
        if name == stuck:
            raise OSError("timeout")
        real_delete(name)

    monkeypatch.setattr(default_storage, "delete", flaky)
    assert login(user).delete(f"/api/users/{user.pk}/chats/{chat.pk}").status_code == 200
    assert not default_storage.exists(files[1].blob.name)
    assert not default_storage.exists(files[2].blob.name)
    assert [e["blob"] for e in DeletionRecord.objects.get().errors] == [stuck]
    _assert_left_for_cleanup([stuck], monkeypatch)
