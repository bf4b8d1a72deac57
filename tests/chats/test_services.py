"""The deletion service: what each deletion takes, what it leaves, and its record."""

from __future__ import annotations

import pytest
from django.core.files.storage import default_storage
from django.db import connection
from django.test.utils import CaptureQueriesContext

from chats import services
from chats.deletion import sql
from chats.models import Chat, ChatConnection, ConversationType, Message
from collections_app.models import Collection, File
from neptun.exceptions import Conflict, NotFound
from neptun.models import AccessToken, DeletionRecord, User
from projects.models import Project, ProjectChat
from tests.factories import (
    ChatConnectionFactory,
    ChatFactory,
    CollectionFactory,
    FileFactory,
    MessageFactory,
    ProjectChatFactory,
    ProjectFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def ctx(actor=None):
    return services.DeletionContext(actor=actor, interface="api", endpoint="test")


def test_chat_delete_takes_messages_links_connections_and_own_files(
    user, django_capture_on_commit_callbacks
):
    chat = ChatFactory(owner=user)
    MessageFactory.create_batch(3, chat=chat)
    link = ProjectChatFactory(chat=chat, project__owner=user)
    ChatConnectionFactory(chat=chat)
    own = FileFactory(owner=user, chat=chat)
    collection = CollectionFactory(owner=user)
    in_collection = FileFactory(owner=user, chat=chat, collection=collection)
    keep_chat = ChatFactory(owner=user)
    MessageFactory(chat=keep_chat)

    with django_capture_on_commit_callbacks(execute=True):
        result = services.chat_delete(chat=chat, ctx=ctx(user))

    assert result.counts["chats"] == 1
    assert result.counts["messages"] == 3
    assert result.counts["links"] == 1
    assert result.counts["connections"] == 1
    assert result.counts["files"] == 1
    assert result.counts["blobs"] == 1
    assert not Chat.objects.filter(pk=chat.pk).exists()
    assert not Message.objects.filter(chat_id=chat.pk).exists()
    assert not ProjectChat.objects.filter(pk=link.pk).exists()
    assert Project.objects.filter(pk=link.project_id).exists()
    assert not File.objects.filter(pk=own.pk).exists()
    assert not default_storage.exists(own.blob.name)
    in_collection.refresh_from_db()
    assert in_collection.chat_id is None
    assert default_storage.exists(in_collection.blob.name)
    assert Collection.objects.filter(pk=collection.pk).exists()
    assert Message.objects.filter(chat=keep_chat).count() == 1
    assert ChatConnection.objects.count() == 0


def test_deletion_record_written_with_actor_and_counts(user):
    chat = ChatFactory(owner=user)
    MessageFactory.create_batch(2, chat=chat)
    result = services.chat_delete(chat=chat, ctx=ctx(user))
    record = DeletionRecord.objects.get(pk=result.record_id)
    assert record.actor == user
    assert record.actor_email == user.email
    assert record.interface == "api"
    assert record.counts["chats"] == 1
    assert record.counts["messages"] == 2


def test_deletion_record_outlives_actor(user):
    chat = ChatFactory(owner=user)
    result = services.chat_delete(chat=chat, ctx=ctx(user))
    services.users_delete(users=User.objects.filter(pk=user.pk), ctx=ctx(None))
    record = DeletionRecord.objects.get(pk=result.record_id)
    assert record.actor is None
    assert record.actor_email == user.email


def test_blob_removed_only_after_commit(user, django_capture_on_commit_callbacks):
    chat = ChatFactory(owner=user)
    f = FileFactory(owner=user, chat=chat)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.chat_delete(chat=chat, ctx=ctx(user))
        assert default_storage.exists(f.blob.name)
    assert default_storage.exists(f.blob.name)
    for callback in callbacks:
        callback()
    assert not default_storage.exists(f.blob.name)


def test_failing_storage_is_reported_not_raised(
    user, django_capture_on_commit_callbacks, monkeypatch
):
    chat = ChatFactory(owner=user)
    f = FileFactory(owner=user, chat=chat)

    def refuse(name):
        raise PermissionError("storage refused")

    monkeypatch.setattr(default_storage, "delete", refuse)
    with django_capture_on_commit_callbacks(execute=True):
        result = services.chat_delete(chat=chat, ctx=ctx(user))
    assert not File.objects.filter(pk=f.pk).exists()
    assert result.errors and result.errors[0]["blob"] == f.blob.name
    assert "storage refused" in result.errors[0]["error"]
    record = DeletionRecord.objects.get(pk=result.record_id)
    assert record.errors[0]["blob"] == f.blob.name
    monkeypatch.undo()
    assert default_storage.exists(f.blob.name)


def test_chat_delete_refuses_with_live_connections_and_deletes_nothing(user):
    chat = ChatFactory(owner=user)
    MessageFactory(chat=chat)
    ChatConnectionFactory(chat=chat)
    with pytest.raises(Conflict) as exc:
        services.chat_delete(chat=chat, ctx=ctx(user), refuse_if_connected=True)
    assert exc.value.extra["active_connections"] == 1
    assert Chat.objects.filter(pk=chat.pk).exists()
    assert Message.objects.filter(chat=chat).count() == 1
    assert DeletionRecord.objects.count() == 0


def test_stale_connection_does_not_block(user, settings):
    from django.utils import timezone

    chat = ChatFactory(owner=user)
    ChatConnectionFactory(
        chat=chat,
        last_seen_at=timezone.now() - timezone.timedelta(seconds=settings.CHAT_CONNECTION_TTL + 5),
    )
    result = services.chat_delete(chat=chat, ctx=ctx(user), refuse_if_connected=True)
    assert result.counts["chats"] == 1


def test_project_batch_is_all_or_nothing(user, other_user):
    project = ProjectFactory(owner=user)
    linked = [ProjectChatFactory(project=project).chat for _ in range(2)]
    unlinked = ChatFactory(owner=user)
    foreign = ChatFactory(owner=other_user)
    with pytest.raises(NotFound) as exc:
        services.project_chats_delete(
            owner=user,
            project_id=project.pk,
            chat_ids=[linked[0].pk, linked[1].pk, unlinked.pk, foreign.pk],
            ctx=ctx(user),
        )
    assert exc.value.extra["missing_ids"] == sorted([unlinked.pk, foreign.pk])
    assert Chat.objects.count() == 4
    result = services.project_chats_delete(
        owner=user, project_id=project.pk, chat_ids=[c.pk for c in linked] * 2, ctx=ctx(user)
    )
    assert result.counts["chats"] == 2
    assert result.counts["links"] == 2
    assert Project.objects.filter(pk=project.pk).exists()
    assert set(Chat.objects.values_list("pk", flat=True)) == {unlinked.pk, foreign.pk}


def test_project_batch_unknown_or_foreign_project(user, other_user):
    project = ProjectFactory(owner=other_user)
    with pytest.raises(NotFound):
        services.project_chats_delete(owner=user, project_id=project.pk, chat_ids=[1], ctx=ctx())


def _seed_conversations(user):
    """One chat of each type, a private collection, a shared one, a global one."""
    private = CollectionFactory(owner=user)
    shared = CollectionFactory(owner=user)
    global_ = CollectionFactory(global_=True)
    chats = {
        "regular": ChatFactory(owner=user, conversation_type=ConversationType.REGULAR),
        "user_files": ChatFactory(
            owner=user, conversation_type=ConversationType.USER_FILES, collection=private
        ),
        "global": ChatFactory(
            owner=user, conversation_type=ConversationType.GLOBAL_COLLECTION, collection=global_
        ),
        "null": ChatFactory(owner=user, conversation_type=None),
        "shared_survivor": ChatFactory(
            owner=user, conversation_type=ConversationType.REGULAR, collection=shared
        ),
    }
    files = {
        "in_regular": FileFactory(owner=user, chat=chats["regular"]),
        "in_private": FileFactory(owner=user, collection=private, chat=chats["user_files"]),
        "in_global": FileFactory(owner=UserFactory(is_staff=True), collection=global_),
        "in_shared": FileFactory(owner=user, collection=shared),
    }
    for chat in chats.values():
        MessageFactory.create_batch(2, chat=chat)
    return chats, files, {"private": private, "shared": shared, "global": global_}


def test_conversations_delete_with_files_and_collections(user, other_user):
    _chats, files, cols = _seed_conversations(user)
    other_chat = ChatFactory(owner=other_user, collection=cols["global"])
    flags = services.ConversationFlags(delete_regular_chats=False)
    # keep the shared survivor: it is regular; only user_files/global/null go
    preview = services.conversations_delete_preview(user=user, flags=flags)
    result = services.conversations_delete(user=user, flags=flags, ctx=ctx(user))
    assert result.by_type == {"user_files": 1, "global_collection": 1, "null": 1}
    assert result.counts["chats"] == 3
    assert result.counts["collections"] == 1  # the private one only
    assert result.counts["files"] == 1
    assert preview.counts == result.counts | {"blobs": preview.counts["blobs"]}
    assert not Collection.objects.filter(pk=cols["private"].pk).exists()
    assert Collection.objects.filter(pk=cols["global"].pk).exists()
    assert Collection.objects.filter(pk=cols["shared"].pk).exists()
    assert File.objects.filter(pk=files["in_global"].pk).exists()
    assert File.objects.filter(pk=files["in_regular"].pk).exists()
    assert Chat.objects.filter(pk=other_chat.pk).exists()


def test_conversations_keep_files_when_flag_false(user):
    _chats, _files, _cols = _seed_conversations(user)
    flags = services.ConversationFlags(delete_files_and_collections=False)
    result = services.conversations_delete(user=user, flags=flags, ctx=ctx(user))
    assert result.counts["chats"] == 5
    assert result.counts["files"] == 0
    assert result.counts["collections"] == 0
    assert File.objects.count() == 4
    assert not File.objects.filter(chat__isnull=False).exists()
    assert Collection.objects.count() == 3


def test_collection_linked_by_surviving_chat_stays(user):
    shared = CollectionFactory(owner=user)
    going = ChatFactory(
        owner=user, conversation_type=ConversationType.USER_FILES, collection=shared
    )
    ChatFactory(owner=user, conversation_type=ConversationType.REGULAR, collection=shared)
    f = FileFactory(owner=user, collection=shared, chat=going)
    flags = services.ConversationFlags(delete_regular_chats=False)
    services.conversations_delete(user=user, flags=flags, ctx=ctx(user))
    assert Collection.objects.filter(pk=shared.pk).exists()
    assert File.objects.filter(pk=f.pk).exists()


def test_query_count_does_not_grow_with_data(user, settings, monkeypatch):
    # Up to DELETION_BLOB_CHUNK_SIZE own files, blob names are held in a list;
    # above, they go through the database queue. Up to SMALL_SELECTION chats, ids
    # are listed; above, staged. Every regime is constant (both bounds lowered
    # here to keep the test small).
    settings.DELETION_BLOB_CHUNK_SIZE = 50
    monkeypatch.setattr(sql, "SMALL_SELECTION", 100)

    def run(n):
        u = UserFactory()
        for i in range(n):
            chat = ChatFactory(
                owner=u,
                conversation_type=ConversationType.USER_FILES,
                collection=CollectionFactory(owner=u),
            )
            MessageFactory.create_batch(3, chat=chat)
            FileFactory(owner=u, chat=chat, collection=chat.collection)
            FileFactory(owner=u, chat=chat)
            del i
        with CaptureQueriesContext(connection) as q:
            services.conversations_delete(user=u, flags=services.ConversationFlags(), ctx=ctx(u))
        return len(q.captured_queries)

    assert run(2) == run(12)  # small selections: ids in a list, few files
    assert run(60) == run(90)  # ids in a list, files through the queue
    assert run(110) == run(220)  # larger ones: staged in a temporary table


def test_one_chat_takes_a_fixed_small_number_of_statements(
    user, django_capture_on_commit_callbacks
):
    """Seven, for 3 or 300 messages: the lock (with the type tally), the counts, the
    files (returning their unused blob names), the chat (the database cascades
    messages, links and sockets), the record and the blob's outbox row; after commit
    the blob is removed and its outbox row deleted, and the record already says so.
    (Five before the outbox: its row in the transaction and its deletion after
    commit are what make the removal survive a crash.)"""

    def run(messages: int) -> int:
        chat = ChatFactory(owner=user)
        MessageFactory.create_batch(messages, chat=chat)
        blob = FileFactory(owner=user, chat=chat).blob.name
        with (
            CaptureQueriesContext(connection) as q,
            django_capture_on_commit_callbacks(execute=True),
        ):
            result = services.chat_delete(chat=chat, ctx=ctx(user), refuse_if_connected=True)
        assert result.counts["messages"] == messages
        assert result.counts["blobs"] == 1
        assert not default_storage.exists(blob)
        assert DeletionRecord.objects.get(pk=result.record_id).counts["blobs"] == 1
        return len([x for x in q.captured_queries if not _is_transaction(x["sql"])])

    assert run(3) == run(300) == 7


def _is_transaction(sql: str) -> bool:
    return sql.split(" ", 1)[0].upper() in {"BEGIN", "COMMIT", "SAVEPOINT", "RELEASE", "ROLLBACK"}


def test_users_delete_takes_everything_owned(user, other_user, django_capture_on_commit_callbacks):
    chats, _files, cols = _seed_conversations(user)
    AccessToken.generate(user=user)
    ProjectChatFactory(project__owner=user, chat=chats["regular"])
    loose = FileFactory(owner=user)
    theirs = ChatFactory(owner=other_user)
    preview = services.users_delete_preview(users=User.objects.filter(pk=user.pk))
    with django_capture_on_commit_callbacks(execute=True):
        result = services.users_delete(users=User.objects.filter(pk=user.pk), ctx=ctx(None))
    assert result.counts["users"] == 1
    assert preview.counts["files"] == result.counts["files"] == 4
    assert preview.counts["chats"] == result.counts["chats"] == 5
    assert not User.objects.filter(pk=user.pk).exists()
    assert not Chat.objects.filter(owner_id=user.pk).exists()
    assert not File.objects.filter(owner_id=user.pk).exists()
    assert not default_storage.exists(loose.blob.name)
    assert not AccessToken.objects.filter(user_id=user.pk).exists()
    assert Collection.objects.filter(pk=cols["global"].pk).exists()
    assert Chat.objects.filter(pk=theirs.pk).exists()


def test_projects_delete_links_only_or_with_chats(user):
    project = ProjectFactory(owner=user)
    chat = ProjectChatFactory(project=project).chat
    result = services.projects_delete(
        projects=Project.objects.filter(pk=project.pk), with_chats=False, ctx=ctx(user)
    )
    assert result.counts["projects"] == 1 and result.counts["links"] == 1
    assert Chat.objects.filter(pk=chat.pk).exists()
    project = ProjectFactory(owner=user)
    ProjectChatFactory(project=project, chat=chat)
    result = services.projects_delete(
        projects=Project.objects.filter(pk=project.pk), with_chats=True, ctx=ctx(user)
    )
    assert result.counts == result.counts | {"projects": 1, "links": 1, "chats": 1}
    assert not Chat.objects.filter(pk=chat.pk).exists()


def test_database_cascade_without_the_service(user):
    """The schema itself cascades: a raw SQL delete of a chat leaves no orphans."""
    chat = ChatFactory(owner=user)
    MessageFactory.create_batch(2, chat=chat)
    ProjectChatFactory(chat=chat, project__owner=user)
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {Chat._meta.db_table} WHERE id = %s", [chat.pk])
    assert Message.objects.count() == 0
    assert ProjectChat.objects.count() == 0


def test_record_of_an_empty_deletion_has_every_kind_at_zero(user):
    result = services.chats_delete(chats=Chat.objects.none(), ctx=ctx(user))
    record = DeletionRecord.objects.get(pk=result.record_id)
    for kind in ("chats", "messages", "files", "collections", "links", "connections", "blobs"):
        assert record.counts[kind] == 0


def test_blobs_are_removed_in_chunks_from_the_database_queue(
    user, settings, django_capture_on_commit_callbacks
):
    settings.DELETION_BLOB_CHUNK_SIZE = 2
    chat = ChatFactory(owner=user)
    files = FileFactory.create_batch(5, owner=user, chat=chat)
    with django_capture_on_commit_callbacks(execute=True):
        result = services.chat_delete(chat=chat, ctx=ctx(user))
    assert result.counts["files"] == 5
    assert result.counts["blobs"] == 5
    assert not any(default_storage.exists(f.blob.name) for f in files)
    assert DeletionRecord.objects.get(pk=result.record_id).counts["blobs"] == 5
    with connection.cursor() as cursor:  # the queue is empty again
        cursor.execute(f"SELECT count(*) FROM {sql.SCRATCH_BLOBS}")
        assert cursor.fetchone()[0] == 0


@pytest.mark.parametrize(
    ("chunk", "in_collection", "whole_collection"),
    [
        (200, False, False),  # few own files: names returned by the DELETE
        (2, False, False),  # more than the chunk: the queue, read with a server-side cursor
        (200, True, False),  # a listed collection's files: counted first, so returned too
        (200, True, True),  # a collection deleted alone: not counted, the queue, read at once
    ],
    ids=["list-own", "queue-chunked", "list-collection", "queue-few"],
)
def test_a_blob_still_referenced_stays_whichever_way_names_travel(
    user,
    other_user,
    settings,
    django_capture_on_commit_callbacks,
    chunk,
    in_collection,
    whole_collection,
):
    settings.DELETION_BLOB_CHUNK_SIZE = chunk
    collection = CollectionFactory(owner=user) if in_collection else None
    chat = ChatFactory(
        owner=user,
        conversation_type=ConversationType.USER_FILES if in_collection else None,
        collection=collection,
    )
    files = [
        FileFactory(owner=user, chat=None if in_collection else chat, collection=collection)
        for _ in range(3)
    ]
    # Another user's file points at the first blob (e.g. a copy): it must stay.
    survivor = FileFactory(owner=other_user)
    default_storage.delete(survivor.blob.name)
    File.objects.filter(pk=survivor.pk).update(blob=files[0].blob.name)
    with django_capture_on_commit_callbacks(execute=True):
        if whole_collection:
            result = services.collections_delete(
                collections=Collection.objects.filter(pk=collection.pk), ctx=ctx(user)
            )
        else:
            result = services.conversations_delete(
                user=user, flags=services.ConversationFlags(), ctx=ctx(user)
            )
    assert result.counts["files"] == 3
    assert result.counts["blobs"] == 2
    assert default_storage.exists(files[0].blob.name)
    assert not any(default_storage.exists(f.blob.name) for f in files[1:])
    assert File.objects.filter(pk=survivor.pk).exists()
    assert DeletionRecord.objects.get(pk=result.record_id).counts["blobs"] == 2


def test_a_rolled_back_deletion_queues_no_blob(user, django_capture_on_commit_callbacks):
    from django.db import transaction

    chat = ChatFactory(owner=user)
    f = FileFactory(owner=user, chat=chat)
    with pytest.raises(RuntimeError), transaction.atomic():
        services.chat_delete(chat=chat, ctx=ctx(user))
        raise RuntimeError
    assert File.objects.filter(pk=f.pk).exists()
    assert default_storage.exists(f.blob.name)


def test_many_collections_are_staged_and_survivors_still_kept(user, other_user, monkeypatch):
    """Over SMALL_ID_SELECTION collections take the temporary-table path; same rules."""
    monkeypatch.setattr(sql, "SMALL_SELECTION", 100)
    monkeypatch.setattr(sql, "SMALL_ID_SELECTION", 100)
    n = sql.SMALL_ID_SELECTION + 20
    collections = CollectionFactory.create_batch(n, owner=user)
    for collection in collections:
        chat = ChatFactory(
            owner=user, conversation_type=ConversationType.USER_FILES, collection=collection
        )
        FileFactory(owner=user, collection=collection, chat=chat)
    kept = collections[0]
    ChatFactory(owner=user, conversation_type=ConversationType.REGULAR, collection=kept)
    theirs = CollectionFactory(owner=other_user)
    flags = services.ConversationFlags(delete_regular_chats=False)
    preview = services.conversations_delete_preview(user=user, flags=flags)
    result = services.conversations_delete(user=user, flags=flags, ctx=ctx(user))
    assert result.counts["collections"] == preview.counts["collections"] == n - 1
    assert result.counts["files"] == preview.counts["files"] == n - 1
    assert set(Collection.objects.values_list("pk", flat=True)) == {kept.pk, theirs.pk}
    assert File.objects.filter(collection=kept).count() == 1
