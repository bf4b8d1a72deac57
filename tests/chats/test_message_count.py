"""``Chat.message_count`` is kept by the database for every way messages are written,
and on PostgreSQL it is what decides whether a deletion is a large purge (no
counting statement for it)."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from chats import services
from chats.deletion import engine, rules
from chats.models import Chat, Message
from chats.writes import message_create
from tests.factories import ChatFactory, MessageFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


def count_of(chat: Chat) -> int:
    chat.refresh_from_db(fields=["message_count"])
    return chat.message_count


def test_every_writer_of_messages_keeps_the_count():
    chat, other = ChatFactory(), ChatFactory()
    message_create(chat=chat, content="one", announce=False)
    MessageFactory.create_batch(2, chat=chat)
    Message.objects.bulk_create(
        [Message(chat=chat, content="bulk"), Message(chat=other, content="bulk")] * 3
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO chats_message (chat_id, role, content, created_at) "
            "VALUES (%s, 'user', 'raw', CURRENT_TIMESTAMP)",
            [chat.pk],
        )
    assert count_of(chat) == Message.objects.filter(chat=chat).count() == 7
    assert count_of(other) == Message.objects.filter(chat=other).count() == 3


@pytest.mark.postgres
def test_copy_keeps_the_count():
    chat = ChatFactory()
    with connection.cursor() as cursor:
        copy_sql = "COPY chats_message (chat_id, role, content, created_at) FROM STDIN"
        with cursor.cursor.copy(copy_sql) as copy:
            copy.write("".join(f"{chat.pk}\tuser\tcopied\t2026-12-01T00:00:00Z\n" * 5))
    assert count_of(chat) == 5


def test_a_failed_write_leaves_the_count():
    chat = ChatFactory()
    with pytest.raises(Exception, match="content"):
        message_create(chat=chat, content="\x00")
    assert count_of(chat) == 0


@pytest.mark.postgres
def test_the_kept_count_decides_a_large_purge(settings):
    """Threshold 5 and two chats of two messages: their counters say 6 (set by hand),
    so the purge batches although a count would say 4 — the decision is the counter,
    taken by the locking statement. The record still says what was deleted."""
    settings.DELETION_BATCH_THRESHOLD = 5
    settings.DELETION_BATCH_CHATS = 1
    user = UserFactory()
    for _ in range(2):
        MessageFactory.create_batch(2, chat=ChatFactory(owner=user))
    Chat.objects.filter(owner=user).update(message_count=3)
    result = services.chats_delete(chats=Chat.objects.filter(owner=user), ctx=_ctx())
    assert result.batches == 3
    assert result.counts["messages"] == 4


@pytest.mark.postgres
def test_the_deletion_reads_the_counter_instead_of_counting():
    user = UserFactory()
    for _ in range(3):
        MessageFactory.create_batch(4, chat=ChatFactory(owner=user))
    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        planned = engine.plan(
            scope=rules.chats(Chat.objects.filter(owner=user)), messages_bound=500_001
        )
    assert planned.children.messages == 12
    assert not any("LIMIT" in q["sql"] and "chats_message" in q["sql"] for q in queries)


def _ctx():
    return services.DeletionContext(actor=None, interface="command", endpoint="test")


def test_saving_an_instance_loaded_earlier_keeps_the_count():
    chat = ChatFactory()
    stale = Chat.objects.get(pk=chat.pk)
    for _ in range(3):
        message_create(chat=chat, content="x", announce=False)
    stale.title = "renamed"
    stale.save()
    stale.refresh_from_db()
    assert (stale.title, stale.message_count) == ("renamed", 3)
