"""The admin's "Purge orphans" page: the sweeper's database kinds, through the service."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from chats.models import Chat, Message
from collections_app.models import Collection, File
from neptun.models import DeletionRecord
from tests.admin.conftest import staff_with
from tests.factories import ChatFactory, CollectionFactory, FileFactory, MessageFactory

pytestmark = pytest.mark.django_db(transaction=True)

PURGE = reverse("admin:neptun_deletionrecord_purge_orphans")
OLD = timezone.now() - timedelta(days=2)


@pytest.fixture
def orphans(user):
    null_chat = ChatFactory(owner=user, conversation_type=None, created_at=OLD)
    MessageFactory.create_batch(2, chat=null_chat)
    fresh_null = ChatFactory(owner=user, conversation_type=None)
    empty = CollectionFactory(owner=user, created_at=OLD)
    loose = FileFactory(owner=user, created_at=OLD)
    return {"null_chat": null_chat, "fresh_null": fresh_null, "empty": empty, "loose": loose}


def rows(response) -> dict[str, tuple[int, int, int]]:
    return {r["kind"]: (r["found"], r["removed"], r["kept"]) for r in response.context["rows"]}


def test_purge_page_shows_orphan_counts(superuser_client, orphans):
    response = superuser_client.get(PURGE)
    assert response.status_code == 200
    assert rows(response) == {
        "null-chats": (1, 1, 0),
        "stale-connections": (0, 0, 0),
        "empty-collections": (1, 1, 0),
        "loose-files": (1, 0, 1),
    }
    goes = {row["label"]: row["values"] for row in response.context["goes"]}
    assert goes["Chats"] == [1] and goes["Messages"] == [2] and goes["Collections"] == [1]
    assert Chat.objects.count() == 2  # a preview deletes nothing


def test_purge_deletes_orphans_only_and_records_it(superuser_client, superuser, orphans):
    response = superuser_client.post(PURGE, {"confirm": "True"})
    assert response.status_code == 302
    assert list(Chat.objects.values_list("pk", flat=True)) == [orphans["fresh_null"].pk]
    assert not Message.objects.exists()
    assert not Collection.objects.filter(pk=orphans["empty"].pk).exists()
    assert File.objects.filter(pk=orphans["loose"].pk).exists()  # never from the admin
    record = DeletionRecord.objects.get()
    assert (record.interface, record.actor, record.endpoint) == (
        "admin",
        superuser,
        "admin:purge_orphans",
    )
    assert record.counts["chats"] == 1 and record.counts["collections"] == 1
    [message] = [str(m) for m in get_messages(response.wsgi_request)]
    assert "1 null-chats" in message and "1 empty-collections" in message


def test_purge_needs_every_delete_permission(client_for, orphans):
    partial = staff_with("neptun.view_deletionrecord", "chats.delete_chat")
    client = client_for(partial)
    assert client.get(PURGE).status_code == 403
    assert client.post(PURGE, {"confirm": "True"}).status_code == 403
    assert (
        "Purge orphans"
        not in client.get(reverse("admin:neptun_deletionrecord_changelist")).content.decode()
    )
    assert Chat.objects.count() == 2

    # The old null chat has messages: they need their delete permission too.
    full = staff_with(
        "neptun.view_deletionrecord",
        "chats.delete_chat",
        "chats.delete_message",
        "chats.delete_chatconnection",
        "collections_app.delete_collection",
        "collections_app.delete_file",
    )
    client = client_for(full)
    assert (
        "Purge orphans"
        in client.get(reverse("admin:neptun_deletionrecord_changelist")).content.decode()
    )
    client.post(PURGE, {"confirm": "True"})
    assert Chat.objects.count() == 1


def test_purge_stops_at_its_time_budget(superuser_client, orphans, monkeypatch):
    from neptun.admin import DeletionRecordAdmin

    monkeypatch.setattr(DeletionRecordAdmin, "PURGE_TIME_BUDGET", 0.0)
    response = superuser_client.post(PURGE, {"confirm": "True"})
    texts = [str(m) for m in get_messages(response.wsgi_request)]
    assert any("purge again to continue" in t for t in texts)
    assert Chat.objects.count() == 2  # nothing done within a zero budget
