"""On PostgreSQL a deletion takes what its cascade deleted (messages, project links,
socket records) from the server's own tally of the transaction, not from a count
beforehand; the figures are the same as a count's, with ``track_counts`` on or off,
in one transaction or in batches, and whatever else the transaction deleted before."""

from __future__ import annotations

import pytest
from django.db import connection, transaction

from chats import services
from chats.deletion import engine, rules
from chats.models import Chat, Message
from neptun.models import DeletionRecord
from tests.factories import (
    ChatConnectionFactory,
    ChatFactory,
    MessageFactory,
    ProjectChatFactory,
    UserFactory,
)

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def ctx():
    return services.DeletionContext(actor=None, interface="command", endpoint="test")


def world(chats: int = 3, messages: int = 4):
    user = UserFactory()
    for _ in range(chats):
        chat = ChatFactory(owner=user)
        MessageFactory.create_batch(messages, chat=chat)
        ProjectChatFactory(chat=chat)
        ChatConnectionFactory(chat=chat)
    other = ChatFactory()
    MessageFactory.create_batch(2, chat=other)
    return user, other


EXPECTED = {"chats": 3, "messages": 12, "links": 3, "connections": 3}


def _counts(result) -> dict[str, int]:
    return {kind: result.counts[kind] for kind in EXPECTED}


def test_a_deletion_does_not_count_its_cascade_beforehand():
    user, _ = world()
    with transaction.atomic():
        planned = engine.plan(scope=rules.chats(Chat.objects.filter(owner=user)))
        assert planned.children.deleted_before is not None
        assert not planned.children.counts  # nothing counted: the deletion will say
        deleted = engine.execute(plan=planned.plan, children=planned.children)
    assert {kind: deleted.counts[kind] for kind in EXPECTED} == EXPECTED


@pytest.mark.parametrize("track_counts", ["on", "off"])
def test_the_record_has_the_deleted_rows(track_counts):
    user, other = world()
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('track_counts', %s, false)", [track_counts])
    try:
        result = services.chats_delete(chats=Chat.objects.filter(owner=user), ctx=ctx())
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET track_counts")
    assert _counts(result) == EXPECTED
    record = DeletionRecord.objects.get(pk=result.record_id)
    assert {kind: record.counts[kind] for kind in EXPECTED} == EXPECTED
    assert Message.objects.filter(chat=other).count() == 2


def test_rows_deleted_earlier_in_the_transaction_are_not_counted():
    user, other = world()
    with transaction.atomic():
        Message.objects.filter(chat=other).delete()  # before the deletion, same transaction
        result = services.chats_delete(chats=Chat.objects.filter(owner=user), ctx=ctx())
    assert _counts(result) == EXPECTED


def test_a_batched_purge_adds_up_each_batch(settings):
    settings.DELETION_BATCH_THRESHOLD = 5
    settings.DELETION_BATCH_CHATS = 1
    user, _ = world()
    result = services.chats_delete(chats=Chat.objects.filter(owner=user), ctx=ctx())
    assert result.batches == 4  # three chats, one each, then the rest
    assert _counts(result) == EXPECTED
    record = DeletionRecord.objects.get(pk=result.record_id)
    assert {kind: record.counts[kind] for kind in EXPECTED} == EXPECTED
