"""Large purges run in short batches; an interrupted purge is finished by a rerun."""

from __future__ import annotations

import pytest
from django.db import connection

from chats import services
from chats.deletion import engine
from chats.models import Chat, ConversationType, Message
from collections_app.models import Collection, File
from neptun.models import DeletionRecord, User
from tests.factories import (
    ChatFactory,
    CollectionFactory,
    FileFactory,
    MessageFactory,
    ProjectChatFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def small_batches(settings):
    settings.DELETION_BATCH_THRESHOLD = 5
    settings.DELETION_BATCH_CHATS = 2


def fresh_statistics():
    """Statistics as autovacuum would leave them in production (batching itself is
    decided by an exact count of the selected chats' messages)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")


def ctx(actor=None):
    return services.DeletionContext(actor=actor, interface="command", endpoint="test")


def make_user_with_chats(n: int, messages: int = 3) -> User:
    user = UserFactory()
    for _ in range(n):
        chat = ChatFactory(owner=user)
        MessageFactory.create_batch(messages, chat=chat)
        FileFactory(owner=user, chat=chat)
    return user


def test_below_threshold_is_one_transaction(settings):
    settings.DELETION_BATCH_THRESHOLD = 1000
    user = make_user_with_chats(3)
    calls = []
    result = services.chats_delete(
        chats=Chat.objects.filter(owner=user), ctx=ctx(), progress=lambda d, t: calls.append((d, t))
    )
    assert result.batches == 1
    assert calls == [(1, 1)]
    assert result.counts["messages"] == 9


@pytest.mark.parametrize(("messages", "batches"), [(5, 1), (6, 3)])
def test_the_exact_message_count_decides_batching(settings, messages, batches):
    """Threshold 5: five messages are one transaction, six are batched — whatever
    the planner's statistics say (none are gathered here)."""
    settings.DELETION_BATCH_THRESHOLD = 5
    settings.DELETION_BATCH_CHATS = 1
    user = UserFactory()
    for n in (messages // 2, messages - messages // 2):
        MessageFactory.create_batch(n, chat=ChatFactory(owner=user))
    result = services.chats_delete(chats=Chat.objects.filter(owner=user), ctx=ctx())
    assert result.batches == batches
    assert result.counts["messages"] == messages
    assert result.counts["chats"] == 2
    assert not Chat.objects.filter(owner=user).exists()


def test_large_user_purge_runs_in_batches(small_batches):
    user = make_user_with_chats(5)
    collection = CollectionFactory(owner=user)
    FileFactory(owner=user, collection=collection)
    other = make_user_with_chats(1)
    fresh_statistics()
    calls = []
    result = services.users_delete(
        users=User.objects.filter(pk=user.pk), ctx=ctx(), progress=lambda d, t: calls.append((d, t))
    )
    assert calls == [(1, 4), (2, 4), (3, 4), (4, 4)]  # 3 batches of chats + the last one
    assert result.batches == 4
    assert result.counts["chats"] == 5
    assert result.counts["messages"] == 15
    assert result.counts["files"] == 6
    assert result.counts["collections"] == 1
    assert result.counts["users"] == 1
    assert result.by_type == {"regular": 5}
    assert not User.objects.filter(pk=user.pk).exists()
    assert Message.objects.filter(chat__owner=other).count() == 3
    record = DeletionRecord.objects.get()
    assert record.counts["messages"] == 15
    assert record.counts["batches"] == 4


def test_interrupted_purge_leaves_whole_batches_and_a_rerun_finishes(small_batches):
    user = make_user_with_chats(5)
    fresh_statistics()

    def stop_after_first(done, total):
        if done == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        services.users_delete(
            users=User.objects.filter(pk=user.pk), ctx=ctx(), progress=stop_after_first
        )
    # the first batch (2 chats) is gone completely; nothing else is touched
    assert Chat.objects.filter(owner=user).count() == 3
    assert Message.objects.filter(chat__owner=user).count() == 9
    assert File.objects.filter(owner=user, chat__isnull=True).count() == 0
    assert DeletionRecord.objects.get().counts["chats"] == 2
    services.users_delete(users=User.objects.filter(pk=user.pk), ctx=ctx())
    assert not User.objects.filter(pk=user.pk).exists()
    assert not Message.objects.exists()


def test_batched_conversations_keep_collections_still_linked(small_batches):
    user = UserFactory()
    private = CollectionFactory(owner=user)
    shared = CollectionFactory(owner=user)
    global_ = CollectionFactory(global_=True)
    for _ in range(3):
        chat = ChatFactory(
            owner=user, conversation_type=ConversationType.USER_FILES, collection=private
        )
        MessageFactory.create_batch(3, chat=chat)
    ChatFactory(owner=user, conversation_type=ConversationType.USER_FILES, collection=shared)
    survivor = ChatFactory(
        owner=user, conversation_type=ConversationType.REGULAR, collection=shared
    )
    ChatFactory(
        owner=user, conversation_type=ConversationType.GLOBAL_COLLECTION, collection=global_
    )
    FileFactory(owner=user, collection=private)
    kept = FileFactory(owner=user, collection=shared)
    fresh_statistics()
    flags = services.ConversationFlags(delete_regular_chats=False)
    result = services.conversations_delete(user=user, flags=flags, ctx=ctx(user))
    assert result.batches > 1
    assert result.counts["chats"] == 5
    assert result.counts["collections"] == 1
    assert set(Collection.objects.values_list("pk", flat=True)) == {shared.pk, global_.pk}
    assert File.objects.filter(pk=kept.pk).exists()
    assert Chat.objects.filter(owner=user).get() == survivor


def test_projects_with_chats_batched(small_batches):
    user = UserFactory()
    links = [ProjectChatFactory(project__owner=user) for _ in range(3)]
    for link in links:
        MessageFactory.create_batch(3, chat=link.chat)
    fresh_statistics()
    from projects.models import Project

    result = services.projects_delete(
        projects=Project.objects.filter(owner=user), with_chats=True, ctx=ctx(user)
    )
    assert result.batches > 1
    assert result.counts["projects"] == 3
    assert result.counts["chats"] == 3
    assert result.counts["links"] == 3
    assert not Chat.objects.exists()


@pytest.mark.postgres
def test_batches_run_with_lock_and_statement_timeouts(small_batches, settings, monkeypatch):
    settings.DELETION_LOCK_TIMEOUT = "3s"
    settings.DELETION_STATEMENT_TIMEOUT = "45s"
    user = make_user_with_chats(3)
    fresh_statistics()
    seen = []
    execute = engine.execute

    def spy(plan, **kwargs):
        with connection.cursor() as cursor:
            cursor.execute("SHOW lock_timeout")
            lock = cursor.fetchone()[0]
            cursor.execute("SHOW statement_timeout")
            seen.append((lock, cursor.fetchone()[0]))
        return execute(plan=plan, **kwargs)

    monkeypatch.setattr(engine, "execute", spy)
    services.chats_delete(chats=Chat.objects.filter(owner=user), ctx=ctx())
    assert seen and all(s == ("3s", "45s") for s in seen)
    with connection.cursor() as cursor:  # SET LOCAL: gone after each batch
        cursor.execute("SHOW lock_timeout")
        assert cursor.fetchone()[0] == "0"


def test_a_plan_made_between_batches_does_not_change_what_the_purge_deletes(
    small_batches, monkeypatch
):
    """The purge's selection lives in a table of its own once its first chunk ends:
    another deletion planned on the same connection between two batches (here by
    the progress callback, staging someone else's chats) leaves it alone."""
    from chats.deletion import rules, sql

    monkeypatch.setattr(sql, "SMALL_SELECTION", 2)  # four chats: staged, not listed

    target, bystander = make_user_with_chats(4), make_user_with_chats(3)
    theirs = Chat.objects.filter(owner=bystander)
    monkey = {"staged": 0}

    def progress(done: int, total: int) -> None:
        sql.stage_table(theirs, lock=False)  # what a plan of another deletion does
        engine.plan(scope=rules.chats(theirs), lock=False)
        monkey["staged"] += 1

    result = services.chats_delete(
        chats=Chat.objects.filter(owner=target), ctx=ctx(), progress=progress
    )
    assert monkey["staged"] >= 2 and result.batches > 2
    assert not Chat.objects.filter(owner=target).exists()
    assert theirs.count() == 3
    assert Message.objects.filter(chat__owner=bystander).count() == 9
    assert result.counts["chats"] == 4
