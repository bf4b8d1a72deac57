"""``DELETE /api/chat/conversations/all`` (and its alias and preview) end to end.

The seeded world is described by tables (``CHATS``, ``FILES``, ``COLLECTIONS``) and
the expected outcome of every flag combination is worked out from those tables by
:func:`expected` — independently of the deletion service.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.core.files.storage import default_storage
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from chats.models import Chat, ChatConnection, ConversationType, Message
from chats.services import chat_group
from collections_app.models import Collection, File
from neptun.models import AccessToken, DeletionRecord
from projects.models import ProjectChat
from tests.api.conversations.conftest import ALIAS, DELETE_ALL, PREVIEW, send
from tests.factories import (
    ChatConnectionFactory,
    ChatFactory,
    CollectionFactory,
    FileFactory,
    MessageFactory,
    ProjectChatFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

FLAG_NAMES = (
    "delete_files_and_collections",
    "delete_regular_chats",
    "delete_user_file_conversations",
    "delete_global_collection_conversations",
    "delete_null_conversations",
)
TYPE_FLAG = {
    "regular": "delete_regular_chats",
    "user_files": "delete_user_file_conversations",
    "global_collection": "delete_global_collection_conversations",
    None: "delete_null_conversations",
}

# The seeded user's world. Counts per type are all different (3, 2, 1, 4), so a
# count reported under the wrong type cannot pass.
#: chat -> (conversation type, collection it links to)
CHATS = {
    "R1": ("regular", None),
    "R2": ("regular", "S"),
    "R3": ("regular", None),
    "UF1": ("user_files", "P"),
    "UF2": ("user_files", "S"),
    "GC1": ("global_collection", "G"),
    "N1": (None, "CN"),
    "N2": (None, None),
    "N3": (None, None),
    "N4": (None, None),
}
#: collection -> is global. P: private; S: shared by a regular and a user-files chat;
#: CN: linked by a NULL chat; E: linked by no chat; G: global (admin-managed).
COLLECTIONS = {"P": False, "S": False, "CN": False, "E": False, "G": True}
#: file -> (chat it was uploaded in, collection it is in); fG belongs to staff.
FILES = {
    "fR1": ("R1", None),
    "fUF1": ("UF1", None),
    "fP": ("UF1", "P"),
    "fS": ("UF2", "S"),
    "fGC": ("GC1", None),
    "fN": ("N1", "CN"),
    "fE": (None, "E"),
    "fLoose": (None, None),
    "fG": (None, "G"),
}


@dataclass
class World:
    user: object
    chats: dict[str, Chat]
    collections: dict[str, Collection]
    files: dict[str, File]
    other_user: object


def seed(user, other_user) -> World:
    staff = UserFactory(is_staff=True)
    collections = {
        name: CollectionFactory(global_=True) if is_global else CollectionFactory(owner=user)
        for name, is_global in COLLECTIONS.items()
    }
    chats = {}
    for name, (conversation_type, collection) in CHATS.items():
        chats[name] = ChatFactory(
            owner=user,
            conversation_type=conversation_type,
            collection=collections.get(collection),
            title=name,
        )
        MessageFactory.create_batch(2, chat=chats[name])
    files = {
        name: FileFactory(
            owner=staff if name == "fG" else user,
            chat=chats.get(chat),
            collection=collections.get(collection),
            name=f"{name}.txt",
        )
        for name, (chat, collection) in FILES.items()
    }
    ChatConnectionFactory(chat=chats["R1"])
    ChatConnectionFactory(chat=chats["UF1"])
    ProjectChatFactory(project__owner=user, chat=chats["N2"])

    # The second user: every type, an own collection, a link to the global one.
    theirs = CollectionFactory(owner=other_user)
    for conversation_type, collection in [
        (ConversationType.REGULAR, None),
        (ConversationType.USER_FILES, theirs),
        (ConversationType.GLOBAL_COLLECTION, collections["G"]),
        (None, None),
    ]:
        chat = ChatFactory(
            owner=other_user, conversation_type=conversation_type, collection=collection
        )
        MessageFactory.create_batch(2, chat=chat)
        ChatConnectionFactory(chat=chat)
        FileFactory(owner=other_user, chat=chat)
        FileFactory(owner=other_user, chat=chat, collection=theirs)
    FileFactory(owner=other_user)
    return World(user, chats, collections, files, other_user)


@dataclass
class Expected:
    chats: set[str]
    files: set[str]
    collections: set[str]
    by_type: dict[str | None, int]


def expected(flags: dict[str, bool]) -> Expected:
    """What a deletion with ``flags`` must remove from the seeded world (the oracle)."""
    chats = {name for name, (t, _) in CHATS.items() if flags[TYPE_FLAG[t]]}
    by_type = {t: sum(1 for n in chats if CHATS[n][0] == t) for t in TYPE_FLAG}
    files: set[str] = set()
    collections: set[str] = set()
    if flags["delete_files_and_collections"]:
        for name, is_global in COLLECTIONS.items():
            linkers = {chat for chat, (_, c) in CHATS.items() if c == name}
            if not is_global and linkers and linkers <= chats:
                collections.add(name)
        files = {
            name
            for name, (chat, collection) in FILES.items()
            if (collection is None and chat in chats) or collection in collections
        }
    return Expected(chats, files, collections, by_type)


def expected_body(exp: Expected, *, verb: str = "Successfully deleted") -> dict:
    n = len(exp.chats)
    parts = [
        f"{exp.by_type['regular']} regular chat conversations",
        f"{exp.by_type['user_files']} user file conversations",
        f"{exp.by_type['global_collection']} global collection conversations",
    ]
    if exp.by_type[None]:
        parts.append(f"{exp.by_type[None]} null conversations")
    return {
        "detail": f"{verb} {n} conversations ({', '.join(parts)})",
        "deleted_stats": {
            "conversations_deleted": n,
            "files_deleted": len(exp.files),
            "collections_deleted": len(exp.collections),
            "regular_conversations_deleted": exp.by_type["regular"],
            "user_files_conversations_deleted": exp.by_type["user_files"],
            "global_collection_conversations_deleted": exp.by_type["global_collection"],
            "null_conversations_deleted": exp.by_type[None],
            "errors": [],
        },
    }


def snapshot() -> dict:
    """Every row that a deletion could touch, and which blobs exist."""
    return {
        "chats": set(Chat.objects.values_list("id", "owner_id", "conversation_type", "collection")),
        "messages": set(Message.objects.values_list("id", "chat_id")),
        "files": set(File.objects.values_list("id", "owner_id", "chat_id", "collection_id")),
        "collections": set(Collection.objects.values_list("id", "owner_id", "is_global")),
        "connections": set(ChatConnection.objects.values_list("id", "chat_id")),
        "links": set(ProjectChat.objects.values_list("id", "chat_id")),
        "blobs": {f.blob.name for f in File.objects.all() if default_storage.exists(f.blob.name)},
    }


def of_owner(snap: dict, user_id: int, chat_ids: set[int]) -> dict:
    """The part of a snapshot that belongs to ``user_id`` (for the bystander check)."""
    return {
        "chats": {row for row in snap["chats"] if row[1] == user_id},
        "messages": {row for row in snap["messages"] if row[1] in chat_ids},
        "files": {row for row in snap["files"] if row[1] == user_id},
        "collections": {row for row in snap["collections"] if row[1] == user_id},
        "connections": {row for row in snap["connections"] if row[1] in chat_ids},
    }


def assert_nothing_deleted(before: dict) -> None:
    assert snapshot() == before
    assert DeletionRecord.objects.count() == 0


COMBINATIONS = [
    dict(zip(FLAG_NAMES, values, strict=True))
    for values in itertools.product((True, False), repeat=5)
]


def combo_id(flags: dict[str, bool]) -> str:
    short = ("files", "regular", "user_files", "global", "null")
    return "-".join(f"{s}={int(flags[f])}" for s, f in zip(short, FLAG_NAMES, strict=True))


@pytest.mark.parametrize("flags", COMBINATIONS, ids=[combo_id(f) for f in COMBINATIONS])
def test_flag_matrix(flags, user, other_user, bearer_client, django_capture_on_commit_callbacks):
    world = seed(user, other_user)
    exp = expected(flags)
    theirs_chat_ids = set(Chat.objects.filter(owner=other_user).values_list("id", flat=True))
    before = snapshot()
    global_file = world.files["fG"]

    preview = send(bearer_client, "POST", PREVIEW, flags)
    assert preview.status_code == 200, preview.content
    assert preview.json() == expected_body(exp, verb="Would delete")
    assert_nothing_deleted(before)

    with django_capture_on_commit_callbacks(execute=True):
        response = send(bearer_client, "DELETE", DELETE_ALL, flags)
    assert response.status_code == 200, response.content
    assert response.json() == expected_body(exp)

    # The user's conversations: exactly the selected ones are gone, with their rows.
    gone_chats = {world.chats[n].pk for n in exp.chats}
    survivors = set(Chat.objects.filter(owner=user).values_list("title", flat=True))
    assert survivors == set(CHATS) - exp.chats
    assert not Message.objects.filter(chat_id__in=gone_chats).exists()
    assert not ChatConnection.objects.filter(chat_id__in=gone_chats).exists()
    assert not ProjectChat.objects.filter(chat_id__in=gone_chats).exists()
    assert Message.objects.filter(chat__owner=user).count() == 2 * len(survivors)

    # Files and collections: exactly the expected ones are gone, blobs with them.
    for name, f in world.files.items():
        row = File.objects.filter(pk=f.pk).first()
        if name in exp.files:
            assert row is None, name
            assert not default_storage.exists(f.blob.name), name
        else:
            assert row is not None, name
            assert default_storage.exists(f.blob.name), name
            uploaded_in = FILES[name][0]
            if uploaded_in in exp.chats:
                assert row.chat_id is None, name  # lost its chat link
            assert row.collection_id == f.collection_id, name
    for name, c in world.collections.items():
        assert Collection.objects.filter(pk=c.pk).exists() is (name not in exp.collections)

    # Never the global collection or its files; never anything of the other user.
    assert Collection.objects.filter(pk=world.collections["G"].pk).exists()
    assert File.objects.filter(pk=global_file.pk).exists()
    after = snapshot()
    assert of_owner(after, other_user.pk, theirs_chat_ids) == of_owner(
        before, other_user.pk, theirs_chat_ids
    )
    theirs_blobs = {f.blob.name for f in File.objects.filter(owner=other_user)}
    assert all(default_storage.exists(name) for name in theirs_blobs)

    record = DeletionRecord.objects.get()
    assert record.actor == user
    assert record.interface == "api"
    assert record.endpoint == f"DELETE {DELETE_ALL}"
    assert record.counts.get("chats", 0) == len(exp.chats)


def test_alias_deletes_the_same(user, other_user, bearer_client):
    seed(user, other_user)
    flags = dict.fromkeys(FLAG_NAMES, True) | {"delete_null_conversations": False}
    response = send(bearer_client, "DELETE", ALIAS, flags)
    assert response.status_code == 200
    assert response.json() == expected_body(expected(flags))
    assert set(Chat.objects.filter(owner=user).values_list("title", flat=True)) == {
        "N1",
        "N2",
        "N3",
        "N4",
    }
    assert DeletionRecord.objects.get().endpoint == f"DELETE {ALIAS}"


def test_spec_response_example_shape(user, bearer_client):
    """The spec's example numbers: 5 regular, 7 user file, 3 global, no null."""
    for _ in range(5):
        ChatFactory(owner=user, conversation_type=ConversationType.REGULAR)
    for _ in range(7):
        chat = ChatFactory(owner=user, conversation_type=ConversationType.USER_FILES)
        FileFactory(owner=user, chat=chat)
    for _ in range(3):
        ChatFactory(
            owner=user,
            conversation_type=ConversationType.GLOBAL_COLLECTION,
            collection=CollectionFactory(global_=True),
        )
    response = send(bearer_client, "DELETE", DELETE_ALL, None, content_type="")
    assert response.status_code == 200
    assert response.json() == {
        "detail": "Successfully deleted 15 conversations (5 regular chat conversations, "
        "7 user file conversations, 3 global collection conversations)",
        "deleted_stats": {
            "conversations_deleted": 15,
            "files_deleted": 7,
            "collections_deleted": 0,
            "regular_conversations_deleted": 5,
            "user_files_conversations_deleted": 7,
            "global_collection_conversations_deleted": 3,
            "null_conversations_deleted": 0,
            "errors": [],
        },
    }


# ----------------------------------------------------------------------- defaults


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (None, ""),  # no body, no content type
        (None, "application/json"),
        ("", "text/plain"),  # nothing to misread, whatever the type says
        ("  \n", "application/json"),  # whitespace only
        ("{}", "application/json"),
        ("{}", "application/json; charset=utf-8"),
    ],
    ids=["absent", "empty-json", "empty-text", "whitespace", "empty-object", "charset"],
)
def test_absent_or_empty_body_means_all_defaults(
    user, other_user, bearer_client, body, content_type
):
    seed(user, other_user)
    response = send(bearer_client, "DELETE", DELETE_ALL, body, content_type=content_type)
    assert response.status_code == 200, response.content
    everything = dict.fromkeys(FLAG_NAMES, True)
    assert response.json() == expected_body(expected(everything))
    assert not Chat.objects.filter(owner=user).exists()
    assert Chat.objects.filter(owner=other_user).count() == 4


# The request bodies of the spec's curl and JavaScript examples, verbatim.
SPEC_EXAMPLES = {
    "curl-1-everything": """{
    "delete_files_and_collections": true,
    "delete_regular_chats": true,
    "delete_user_file_conversations": true,
    "delete_global_collection_conversations": true,
    "delete_null_conversations": true
  }""",
    "curl-2-only-null": """{
    "delete_files_and_collections": false,
    "delete_regular_chats": false,
    "delete_user_file_conversations": false,
    "delete_global_collection_conversations": false,
    "delete_null_conversations": true
  }""",
    "curl-3-only-regular": """{
    "delete_files_and_collections": false,
    "delete_regular_chats": true,
    "delete_user_file_conversations": false,
    "delete_global_collection_conversations": false,
    "delete_null_conversations": false
  }""",
    "curl-3b-user-files-keep-files": """{
    "delete_files_and_collections": false,
    "delete_regular_chats": false,
    "delete_user_file_conversations": true,
    "delete_global_collection_conversations": false
  }""",
    "curl-4-all-but-global": """{
    "delete_files_and_collections": true,
    "delete_regular_chats": true,
    "delete_user_file_conversations": true,
    "delete_global_collection_conversations": false
  }""",
    "curl-5-keep-files": """{
    "delete_files_and_collections": false,
    "delete_regular_chats": true,
    "delete_user_file_conversations": true,
    "delete_global_collection_conversations": true
  }""",
    "migration-new-format": """{
  "delete_files_and_collections": true,
  "delete_regular_chats": false,
  "delete_user_file_conversations": true,
  "delete_global_collection_conversations": true
}""",
}


@pytest.mark.parametrize("name", SPEC_EXAMPLES)
def test_spec_example_bodies(name, user, other_user, bearer_client):
    seed(user, other_user)
    flags = dict.fromkeys(FLAG_NAMES, True) | json.loads(SPEC_EXAMPLES[name])
    response = send(bearer_client, "DELETE", DELETE_ALL, SPEC_EXAMPLES[name])
    assert response.status_code == 200, response.content
    assert response.json() == expected_body(expected(flags))


# ----------------------------------------------------------------------- side effects


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("atomic_requests", [False, True], ids=["plain", "atomic-requests"])
def test_storage_that_refuses_removals_is_reported(
    user, other_user, bearer_client, monkeypatch, atomic_requests
):
    """Real commits: the after-commit blob removal runs before the response is built,
    even with ``ATOMIC_REQUESTS`` on (the deletion views are marked non-atomic)."""
    monkeypatch.setitem(connection.settings_dict, "ATOMIC_REQUESTS", atomic_requests)
    world = seed(user, other_user)
    refused = world.files["fP"].blob.name
    real_delete = default_storage.delete

    def delete(name):
        if name == refused:
            raise PermissionError("storage refused")
        real_delete(name)

    monkeypatch.setattr(default_storage, "delete", delete)
    response = send(bearer_client, "DELETE", DELETE_ALL, {})
    assert response.status_code == 200
    body = response.json()
    exp = expected(dict.fromkeys(FLAG_NAMES, True))
    assert body["deleted_stats"]["files_deleted"] == len(exp.files)
    assert body["deleted_stats"]["errors"] == [
        {
            "kind": "blob",
            "blob": refused,
            "error": "PermissionError: storage refused",
            "action": "left in storage for now; the worker retries its removal",
        }
    ]
    # The rows are gone all the same; the refused blob is left, the others removed.
    assert not File.objects.filter(pk=world.files["fP"].pk).exists()
    assert default_storage.exists(refused)
    assert not default_storage.exists(world.files["fUF1"].blob.name)
    assert not Chat.objects.filter(owner=user).exists()
    assert DeletionRecord.objects.get().errors == body["deleted_stats"]["errors"]


@pytest.mark.django_db(transaction=True)
def test_every_removal_refused(user, bearer_client, monkeypatch):
    chats = [ChatFactory(owner=user) for _ in range(3)]
    files = [FileFactory(owner=user, chat=chat) for chat in chats]

    def refuse(name):
        raise OSError("disk gone")

    monkeypatch.setattr(default_storage, "delete", refuse)
    response = send(bearer_client, "DELETE", DELETE_ALL, {})
    assert response.status_code == 200
    errors = response.json()["deleted_stats"]["errors"]
    assert sorted(e["blob"] for e in errors) == sorted(f.blob.name for f in files)
    assert all(e["error"] == "OSError: disk gone" for e in errors)
    assert not File.objects.exists()
    monkeypatch.undo()
    assert all(default_storage.exists(f.blob.name) for f in files)


def test_live_sockets_of_deleted_conversations_are_told_after_commit(
    user, bearer_client, django_capture_on_commit_callbacks
):
    going = ChatFactory(owner=user, conversation_type=ConversationType.REGULAR)
    staying = ChatFactory(owner=user, conversation_type=None)
    ChatConnectionFactory(chat=going)
    ChatConnectionFactory(chat=staying)
    layer = get_channel_layer()
    going_channel = async_to_sync(layer.new_channel)()
    staying_channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(chat_group(going.pk), going_channel)
    async_to_sync(layer.group_add)(chat_group(staying.pk), staying_channel)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = send(bearer_client, "DELETE", DELETE_ALL, {"delete_null_conversations": False})
    assert response.status_code == 200
    assert not ChatConnection.objects.filter(chat_id=going.pk).exists()
    assert ChatConnection.objects.filter(chat_id=staying.pk).count() == 1

    async def pending(channel):
        return layer.channels.get(channel) and not layer.channels[channel].empty()

    assert not async_to_sync(pending)(going_channel)  # nothing before commit
    for callback in callbacks:
        callback()
    message = async_to_sync(layer.receive)(going_channel)
    assert message == {"type": "chat.deleted"}
    assert not async_to_sync(pending)(staying_channel)
    async_to_sync(layer.flush)()


def test_preview_deletes_nothing(user, other_user, bearer_client):
    seed(user, other_user)
    before = snapshot()
    response = send(bearer_client, "POST", PREVIEW, {})
    assert response.status_code == 200
    assert response.json() == expected_body(
        expected(dict.fromkeys(FLAG_NAMES, True)), verb="Would delete"
    )
    assert_nothing_deleted(before)


# ----------------------------------------------------------------------- scale


def grow(user, n: int) -> None:
    """``n`` conversations of every type, with messages, files, collections, sockets."""
    global_ = CollectionFactory(global_=True)
    for i in range(n):
        collection = CollectionFactory(owner=user)
        for conversation_type, linked in [
            (ConversationType.REGULAR, None),
            (ConversationType.USER_FILES, collection),
            (ConversationType.GLOBAL_COLLECTION, global_),
            (None, None),
        ]:
            chat = ChatFactory(owner=user, conversation_type=conversation_type, collection=linked)
            MessageFactory.create_batch(3, chat=chat)
            FileFactory(owner=user, chat=chat)
        FileFactory(owner=user, collection=collection)
        ChatConnectionFactory(chat=chat)
        ProjectChatFactory(project__owner=user, chat=chat)
        del i


def queries_of(path: str, method: str, n: int, capture_on_commit) -> tuple[int, dict]:
    """Queries of one request (after-commit work included) for a user grown by ``n``."""
    user = UserFactory()
    grow(user, n)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.generate(user=user)[1]}")
    with (
        CaptureQueriesContext(connection) as queries,
        capture_on_commit(execute=True),
    ):
        response = send(client, method, path, {})
    assert response.status_code == 200
    return len(queries.captured_queries), response.json()["deleted_stats"]


@pytest.mark.parametrize(("method", "path"), [("DELETE", DELETE_ALL), ("POST", PREVIEW)])
def test_query_count_does_not_grow_with_data(method, path, django_capture_on_commit_callbacks):
    small, small_stats = queries_of(path, method, 2, django_capture_on_commit_callbacks)
    large, large_stats = queries_of(path, method, 20, django_capture_on_commit_callbacks)
    # 4 conversations, 5 files and 1 collection per unit of n.
    assert (small_stats["conversations_deleted"], large_stats["conversations_deleted"]) == (8, 80)
    assert (small_stats["files_deleted"], large_stats["files_deleted"]) == (10, 100)
    assert (small_stats["collections_deleted"], large_stats["collections_deleted"]) == (2, 20)
    assert small == large


BATCHED = [
    dict.fromkeys(FLAG_NAMES, True),
    dict.fromkeys(FLAG_NAMES, True) | {"delete_regular_chats": False},
    dict.fromkeys(FLAG_NAMES, True) | {"delete_files_and_collections": False},
    dict.fromkeys(FLAG_NAMES, False) | {"delete_user_file_conversations": True},
]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("flags", BATCHED, ids=[combo_id(f) for f in BATCHED])
def test_large_purge_in_batches_answers_the_same(flags, user, other_user, bearer_client, settings):
    """Above the batch threshold the service commits in batches; the API answers alike."""
    settings.DELETION_BATCH_THRESHOLD = 1
    settings.DELETION_BATCH_CHATS = 3
    world = seed(user, other_user)
    if connection.vendor == "postgresql":
        # Statistics as autovacuum would leave them in production.
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    exp = expected(flags)
    their_chats = set(Chat.objects.filter(owner=other_user).values_list("id", flat=True))
    theirs = of_owner(snapshot(), other_user.pk, their_chats)

    response = send(bearer_client, "DELETE", DELETE_ALL, flags)
    assert response.status_code == 200, response.content
    assert response.json() == expected_body(exp)
    if len(exp.chats) > settings.DELETION_BATCH_CHATS:
        assert DeletionRecord.objects.get().counts["batches"] > 2  # it did run in batches
    survivors = set(Chat.objects.filter(owner=user).values_list("title", flat=True))
    assert survivors == set(CHATS) - exp.chats
    gone = {n for n, f in world.files.items() if not File.objects.filter(pk=f.pk).exists()}
    assert gone == exp.files
    for name in gone:
        assert not default_storage.exists(world.files[name].blob.name), name
    gone = {
        n for n, c in world.collections.items() if not Collection.objects.filter(pk=c.pk).exists()
    }
    assert gone == exp.collections
    assert of_owner(snapshot(), other_user.pk, their_chats) == theirs
