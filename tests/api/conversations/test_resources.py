"""Lists and creates of the conversations dialect: chats, collections, files."""

from __future__ import annotations

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from chats.models import Chat, ConversationType
from collections_app.models import Collection, File
from tests.api.conversations.conftest import DELETE_ALL, send
from tests.factories import ChatFactory, CollectionFactory, FileFactory

pytestmark = pytest.mark.django_db


def results(response):
    assert response.status_code == 200, response.content
    return response.json()["results"]


# ----------------------------------------------------------------------- chats


def test_create_chat_defaults_to_regular(user, bearer_client):
    response = bearer_client.post("/api/chat/conversations", {"title": "hi"}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    chat = Chat.objects.get(pk=body["id"])
    assert chat.owner == user
    assert body["conversation_type"] == "regular"
    assert body["title"] == "hi"
    assert body["collection_id"] is None
    assert body["uuid"] == str(chat.uuid)


def test_create_chat_of_each_type(user, bearer_client):
    own = CollectionFactory(owner=user)
    global_ = CollectionFactory(global_=True, tenant=user.tenant)
    for conversation_type, collection in [
        ("user_files", own),
        ("global_collection", global_),
        (None, None),
        ("regular", own),
    ]:
        response = bearer_client.post(
            "/api/chat/conversations",
            {
                "conversation_type": conversation_type,
                "collection_id": collection.pk if collection else None,
            },
            format="json",
        )
        assert response.status_code == 201, response.content
        chat = Chat.objects.get(pk=response.json()["id"])
        assert chat.conversation_type == conversation_type
        assert chat.collection == collection


@pytest.mark.parametrize(
    ("payload", "loc", "type_"),
    [
        ({"conversation_type": "nope"}, ["body", "conversation_type"], "invalid_choice"),
        ({"conversation_type": "global_collection"}, ["body", "collection_id"], "invalid"),
        ({"collection_id": "theirs"}, ["body", "collection_id"], "not_found"),
        ({"collection_id": 0}, ["body", "collection_id"], "min_value"),
        ({"titel": "typo"}, ["body", "titel"], "extra_forbidden"),
    ],
)
def test_create_chat_refused(user, other_user, bearer_client, payload, loc, type_):
    theirs = CollectionFactory(owner=other_user)
    if payload.get("collection_id") == "theirs":
        payload = {"collection_id": theirs.pk}
    response = bearer_client.post("/api/chat/conversations", payload, format="json")
    assert response.status_code == 422, response.content
    [error] = response.json()["detail"]
    assert error["loc"] == loc
    assert error["type"] == type_
    assert not Chat.objects.exists()


def test_create_chat_malformed_json(bearer_client):
    response = send(bearer_client, "POST", "/api/chat/conversations", "{nope")
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["type"] == "json_invalid"
    assert error["loc"] == ["body"]


def test_list_chats_only_own_and_filter_by_type(user, other_user, bearer_client):
    chats = {t: ChatFactory(owner=user, conversation_type=t) for t in [*ConversationType, None]}
    ChatFactory(owner=other_user)
    listed = results(bearer_client.get("/api/chat/conversations"))
    assert {c["id"] for c in listed} == {c.pk for c in chats.values()}
    for value, expected in [
        ("regular", {chats[ConversationType.REGULAR].pk}),
        ("null", {chats[None].pk}),
        ("user_files&conversation_type=null", {chats["user_files"].pk, chats[None].pk}),
    ]:
        listed = results(bearer_client.get(f"/api/chat/conversations?conversation_type={value}"))
        assert {c["id"] for c in listed} == expected, value


def test_list_chats_filter_by_collection_and_bad_filter(user, bearer_client):
    collection = CollectionFactory(owner=user)
    linked = ChatFactory(owner=user, collection=collection)
    ChatFactory(owner=user)
    listed = results(bearer_client.get(f"/api/chat/conversations?collection={collection.pk}"))
    assert [c["id"] for c in listed] == [linked.pk]
    response = bearer_client.get("/api/chat/conversations?conversation_type=bogus")
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == ["query", "conversation_type"]
    assert error["input"] == "bogus"


# ----------------------------------------------------------------------- collections


def test_collections_own_and_global(user, other_user, bearer_client):
    own = CollectionFactory(owner=user)
    global_ = CollectionFactory(global_=True, tenant=user.tenant)
    CollectionFactory(owner=other_user)
    listed = results(bearer_client.get("/api/collections"))
    assert {c["id"] for c in listed} == {own.pk, global_.pk}
    listed = results(bearer_client.get("/api/collections?is_global=true"))
    assert [c["id"] for c in listed] == [global_.pk]


def test_create_collection_is_always_own(user, bearer_client):
    response = bearer_client.post("/api/collections", {"name": "notes"}, format="json")
    assert response.status_code == 201, response.content
    collection = Collection.objects.get(pk=response.json()["id"])
    assert collection.owner == user
    assert not collection.is_global
    response = bearer_client.post(
        "/api/collections", {"name": "kb", "is_global": True}, format="json"
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "is_global"]
    assert Collection.objects.count() == 1


# ----------------------------------------------------------------------- files


def upload(client, **fields):
    payload = {"file": SimpleUploadedFile("notes.txt", b"some notes", "text/plain"), **fields}
    return client.post("/api/files", payload, format="multipart")


def test_upload_into_own_chat_and_collection(user, bearer_client):
    chat = ChatFactory(owner=user, conversation_type=ConversationType.USER_FILES)
    collection = CollectionFactory(owner=user)
    response = upload(bearer_client, chat_id=chat.pk, collection_id=collection.pk)
    assert response.status_code == 201, response.content
    body = response.json()
    f = File.objects.get(pk=body["id"])
    assert (f.owner, f.chat, f.collection) == (user, chat, collection)
    assert body["name"] == "notes.txt"
    assert body["size"] == 10
    assert body["content_type"] == "text/plain"
    with default_storage.open(f.blob.name) as stored:
        assert stored.read() == b"some notes"


@pytest.mark.parametrize("target", ["their-chat", "their-collection", "global-collection"])
def test_upload_refused_outside_own_things(user, other_user, bearer_client, target):
    fields = {
        "their-chat": {"chat_id": ChatFactory(owner=other_user).pk},
        "their-collection": {"collection_id": CollectionFactory(owner=other_user).pk},
        "global-collection": {
            "collection_id": CollectionFactory(global_=True, tenant=user.tenant).pk
        },
    }[target]
    response = upload(bearer_client, **fields)
    assert response.status_code == 422, response.content
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", next(iter(fields))]
    assert not File.objects.exists()


def test_upload_without_file(bearer_client):
    response = bearer_client.post("/api/files", {"name": "x"}, format="multipart")
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "file"]


def test_list_files_only_own_and_filter(user, other_user, bearer_client):
    chat = ChatFactory(owner=user)
    in_chat = FileFactory(owner=user, chat=chat)
    loose = FileFactory(owner=user)
    FileFactory(owner=other_user)
    assert {f["id"] for f in results(bearer_client.get("/api/files"))} == {in_chat.pk, loose.pk}
    assert [f["id"] for f in results(bearer_client.get(f"/api/files?chat={chat.pk}"))] == [
        in_chat.pk
    ]


@pytest.mark.parametrize("path", ["/api/chat/conversations", "/api/collections", "/api/files"])
def test_lists_need_a_token(path):
    response = APIClient().get(path)
    assert response.status_code == 401
    assert response.json() == {"detail": "Not authenticated"}
    assert response["WWW-Authenticate"] == "Bearer"


@pytest.mark.django_db(transaction=True)
def test_end_to_end_through_the_api(user, bearer_client):
    """Fill through the API, delete through the API, and look at what is left."""
    collection = bearer_client.post("/api/collections", {"name": "mine"}, format="json").json()
    chat = bearer_client.post(
        "/api/chat/conversations",
        {"conversation_type": "user_files", "collection_id": collection["id"]},
        format="json",
    ).json()
    regular = bearer_client.post("/api/chat/conversations", {}, format="json").json()
    in_collection = upload(bearer_client, chat_id=chat["id"], collection_id=collection["id"]).json()
    attached = upload(bearer_client, chat_id=regular["id"]).json()
    blobs = [File.objects.get(pk=f["id"]).blob.name for f in (in_collection, attached)]

    response = send(bearer_client, "DELETE", DELETE_ALL, {"delete_regular_chats": False})
    assert response.status_code == 200
    stats = response.json()["deleted_stats"]
    assert stats["conversations_deleted"] == 1
    assert stats["user_files_conversations_deleted"] == 1
    assert stats["collections_deleted"] == 1
    assert stats["files_deleted"] == 1
    assert stats["errors"] == []
    assert not default_storage.exists(blobs[0])
    assert default_storage.exists(blobs[1])
    assert results(bearer_client.get("/api/collections")) == []
    assert [c["id"] for c in results(bearer_client.get("/api/chat/conversations"))] == [
        regular["id"]
    ]


def test_openapi_documents_the_delete_body():
    from django.urls import include, path
    from drf_spectacular.generators import SchemaGenerator

    patterns = [path("api/", include("neptun.api.conversations.urls"))]
    schema = SchemaGenerator(patterns=patterns).get_schema(request=None, public=True)
    operations = [
        schema["paths"]["/api/chat/conversations/all"]["delete"],
        schema["paths"]["/api/collections/all"]["delete"],
        schema["paths"]["/api/chat/conversations/all/preview"]["post"],
    ]
    assert len({op["operationId"] for op in operations}) == 3
    for op in operations:
        assert list(op["requestBody"]["content"]) == ["application/json"]
        assert op["security"] == [{"bearerToken": []}]
        assert {"200", "401", "422"} <= set(op["responses"])
    body = schema["components"]["schemas"]["DeleteConversationsBodyRequest"]
    assert body["additionalProperties"] is False
    assert {name: (p["type"], p["default"]) for name, p in body["properties"].items()} == {
        name: ("boolean", True)
        for name in (
            "delete_files_and_collections",
            "delete_regular_chats",
            "delete_user_file_conversations",
            "delete_global_collection_conversations",
            "delete_null_conversations",
        )
    }
    stats = schema["components"]["schemas"]["DeletedStats"]["properties"]
    assert "null_conversations_deleted" in stats and "errors" in stats
