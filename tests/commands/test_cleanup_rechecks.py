"""The orphan sweep deletes a batch only if it is still orphaned when the rows are
locked: a collection that gained a file or a chat, or a socket that sent a heartbeat,
between the batch's selection and its ``DELETE`` is kept."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from chats import cleanup, services
from chats.models import ChatConnection
from collections_app.models import Collection
from tests.factories import (
    ChatConnectionFactory,
    ChatFactory,
    CollectionFactory,
    FileFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db(transaction=True)

DAYS_AGO = timezone.now() - timedelta(days=3)


def sweep(kind: str) -> cleanup.SweepReport:
    options = cleanup.SweepOptions(kinds=(kind,))
    return cleanup.orphans_delete(
        options=options, ctx=services.DeletionContext(None, "command", "test")
    )


def test_a_collection_filled_after_its_selection_is_kept(monkeypatch):
    owner = UserFactory()
    empty, gains_file, gains_chat = (CollectionFactory(owner=owner) for _ in range(3))
    Collection.objects.update(created_at=DAYS_AGO)
    lock_next = cleanup._lock_next

    def lock_then_fill(*args, **kwargs):
        locked = lock_next(*args, **kwargs)
        if locked:  # as if they arrived just before the lock
            FileFactory(owner=owner, collection=gains_file)
            ChatFactory(owner=owner, collection=gains_chat)
        return locked

    monkeypatch.setattr(cleanup, "_lock_next", lock_then_fill)
    report = sweep(cleanup.EMPTY_COLLECTIONS)
    assert report.kinds[cleanup.EMPTY_COLLECTIONS].removed == 1
    assert set(Collection.objects.values_list("id", flat=True)) == {gains_file.id, gains_chat.id}
    assert not Collection.objects.filter(id=empty.id).exists()


def test_a_socket_seen_after_its_selection_is_kept(monkeypatch):
    chat = ChatFactory()
    stale, revived = ChatConnectionFactory(chat=chat), ChatConnectionFactory(chat=chat)
    ChatConnection.objects.update(last_seen_at=DAYS_AGO)
    delete_stale = cleanup._delete_stale

    def heartbeat_then_delete(ids, **kwargs):
        ChatConnection.objects.filter(id=revived.id).update(last_seen_at=timezone.now())
        return delete_stale(ids, **kwargs)

    monkeypatch.setattr(cleanup, "_delete_stale", heartbeat_then_delete)
    report = sweep(cleanup.STALE_CONNECTIONS)
    assert report.kinds[cleanup.STALE_CONNECTIONS].removed == 1
    assert list(ChatConnection.objects.values_list("id", flat=True)) == [revived.id]
    assert stale.id != revived.id
