"""The rest of the v1 dialect: list, create, read, messages, export, keys, errors."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from chats.models import Chat, ConversationType, Message
from neptun.models import ApiKey, hash_secret
from tests.factories import (
    ChatFactory,
    CollectionFactory,
    FileFactory,
    MessageFactory,
    ProjectChatFactory,
    ProjectFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

LIST = "/api/v1/chats"


def ids(response) -> set[str]:
    return {item["id"] for item in response.json()["results"]}


# --------------------------------------------------------------------------- list


def test_list_shows_every_chat_of_the_tenants_users_and_nothing_else(
    key_client, tenant, foreign_chat
):
    first = ChatFactory(owner=UserFactory(tenant=tenant))
    second = ChatFactory(owner=UserFactory(tenant=tenant))

    response = key_client.get(LIST)

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    assert ids(response) == {str(first.uuid), str(second.uuid)}
    item = next(i for i in body["results"] if i["id"] == str(first.uuid))
    assert item == {
        "id": str(first.uuid),
        "title": first.title,
        "user": first.owner_id,
        "user_email": first.owner.email,
        "conversation_type": "regular",
        "collection": None,
        "created_at": item["created_at"],
        "updated_at": item["updated_at"],
    }
    assert item["created_at"].endswith("Z")


def test_list_is_paginated(key_client, tenant_user):
    ChatFactory.create_batch(5, owner=tenant_user)
    response = key_client.get(LIST, {"limit": 2, "offset": 1})
    body = response.json()
    assert body["count"] == 5
    assert len(body["results"]) == 2
    assert body["next"] and body["previous"]


def test_list_filters(key_client, tenant, tenant_user):
    other_user = UserFactory(tenant=tenant)
    old = ChatFactory(
        owner=tenant_user, title="Old Taxes", created_at=timezone.now() - timedelta(days=10)
    )
    files = ChatFactory(owner=tenant_user, conversation_type=ConversationType.USER_FILES)
    untyped = ChatFactory(owner=other_user, conversation_type=None, title="taxes 2026")
    project = ProjectFactory(owner=tenant_user)
    ProjectChatFactory(project=project, chat=files)

    assert ids(key_client.get(LIST, {"user": other_user.pk})) == {str(untyped.uuid)}
    assert ids(key_client.get(LIST, {"user_email": other_user.email.upper()})) == {
        str(untyped.uuid)
    }
    assert ids(key_client.get(LIST, {"conversation_type": "user_files"})) == {str(files.uuid)}
    assert ids(key_client.get(LIST, {"conversation_type": "null"})) == {str(untyped.uuid)}
    assert ids(key_client.get(LIST, {"project": project.pk})) == {str(files.uuid)}
    assert ids(key_client.get(LIST, {"title": "TAXES"})) == {str(old.uuid), str(untyped.uuid)}
    cut = (timezone.now() - timedelta(days=1)).isoformat()
    assert ids(key_client.get(LIST, {"created_before": cut})) == {str(old.uuid)}
    assert ids(key_client.get(LIST, {"created_after": cut})) == {
        str(files.uuid),
        str(untyped.uuid),
    }


def test_list_filter_of_another_tenants_user_finds_nothing(key_client, foreign_chat):
    response = key_client.get(LIST, {"user": foreign_chat.owner_id})
    assert response.status_code == 200
    assert response.json()["count"] == 0


def test_a_bad_filter_value_is_400_in_the_detail_shape(key_client):
    response = key_client.get(LIST, {"conversation_type": "bogus"})
    assert response.status_code == 400
    body = response.json()
    assert body["detail"].startswith("Invalid query: conversation_type:")
    assert "conversation_type" in body["errors"]


def test_list_without_key_is_401(api_client):
    response = api_client.get(LIST)
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid or missing API key"}


# --------------------------------------------------------------------------- create


def test_create_a_chat_for_a_user_of_the_tenant(key_client, tenant_user):
    collection = CollectionFactory(owner=tenant_user)

    response = key_client.post(
        LIST,
        {
            "user": tenant_user.pk,
            "title": "Trip",
            "conversation_type": "user_files",
            "collection": collection.pk,
        },
        format="json",
    )

    assert response.status_code == 201, response.content
    chat = Chat.objects.get()
    body = response.json()
    assert body["id"] == str(chat.uuid)
    assert (body["title"], body["user"], body["conversation_type"], body["collection"]) == (
        "Trip",
        tenant_user.pk,
        "user_files",
        collection.pk,
    )
    assert chat.owner == tenant_user and chat.collection == collection


def test_create_by_email_with_defaults(key_client, tenant_user):
    response = key_client.post(LIST, {"user_email": tenant_user.email}, format="json")
    assert response.status_code == 201
    assert response.json()["conversation_type"] == "regular"
    assert response.json()["title"] == ""
    assert Chat.objects.get().owner == tenant_user


def test_create_with_a_global_collection(key_client, tenant_user):
    knowledge = CollectionFactory(global_=True, tenant=tenant_user.tenant)
    response = key_client.post(
        LIST,
        {
            "user": tenant_user.pk,
            "conversation_type": "global_collection",
            "collection": knowledge.pk,
        },
        format="json",
    )
    assert response.status_code == 201
    assert Chat.objects.get().collection == knowledge


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "user"),
        ({"user": "x"}, "user"),
        ({"user": 0}, "user"),
        ({"user_email": "nobody@example.com"}, "user"),
        ({"conversation_type": "weird"}, "conversation_type"),
        ({"title": "x" * 301}, "title"),
    ],
)
def test_create_with_a_bad_body_is_400_and_creates_nothing(key_client, tenant_user, body, field):
    body = {"user": tenant_user.pk, **body} if field != "user" else body
    response = key_client.post(LIST, body, format="json")
    assert response.status_code == 400
    data = response.json()
    assert data["detail"].startswith("Invalid body:")
    assert field in data["errors"]
    assert not Chat.objects.exists()


def test_create_for_another_tenants_user_is_400(key_client, foreign_chat):
    response = key_client.post(LIST, {"user": foreign_chat.owner_id}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == {"user": ["No such user in this tenant."]}
    assert Chat.objects.count() == 1


def test_create_with_someone_elses_collection_is_400(key_client, tenant_user):
    theirs = CollectionFactory(owner=UserFactory(tenant=tenant_user.tenant))
    response = key_client.post(
        LIST, {"user": tenant_user.pk, "collection": theirs.pk}, format="json"
    )
    assert response.status_code == 400
    assert "collection" in response.json()["errors"]
    assert not Chat.objects.exists()


def test_create_with_invalid_json_is_400(key_client):
    response = key_client.post(LIST, "{nope", content_type="application/json")
    assert response.status_code == 400
    assert "detail" in response.json()
    assert set(response.json()) == {"detail"}


# --------------------------------------------------------------------------- detail


def test_get_one_chat(key_client, chat):
    response = key_client.get(f"/api/v1/chats/{chat.uuid}")
    assert response.status_code == 200
    assert response.json()["id"] == str(chat.uuid)
    assert response.json()["user_email"] == chat.owner.email


@pytest.mark.parametrize("which", ["unknown", "malformed", "foreign"])
def test_get_of_what_the_key_does_not_reach_is_404(key_client, foreign_chat, which):
    chat_id = {"unknown": uuid.uuid4(), "malformed": "abc", "foreign": foreign_chat.uuid}[which]
    response = key_client.get(f"/api/v1/chats/{chat_id}")
    assert response.status_code == 404
    assert response.json() == {"detail": "Chat not found"}


def test_other_methods_are_405_in_the_detail_shape(key_client, chat):
    response = key_client.put(f"/api/v1/chats/{chat.uuid}", {}, format="json")
    assert response.status_code == 405
    assert set(response.json()) == {"detail"}


def test_unknown_paths_under_v1_are_json_404(key_client):
    response = key_client.get("/api/v1/nothing/here")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not Found"}


# --------------------------------------------------------------------------- messages


def test_list_messages_oldest_first(key_client, chat):
    now = timezone.now()
    second = MessageFactory(chat=chat, created_at=now, content="second")
    first = MessageFactory(chat=chat, created_at=now - timedelta(minutes=1), content="first")
    MessageFactory()  # another chat's

    response = key_client.get(f"/api/v1/chats/{chat.uuid}/messages")

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    assert [m["id"] for m in body["results"]] == [first.pk, second.pk]
    assert body["results"][0] == {
        "id": first.pk,
        "role": "user",
        "content": "first",
        "created_at": body["results"][0]["created_at"],
    }


def test_post_a_message(key_client, chat):
    response = key_client.post(
        f"/api/v1/chats/{chat.uuid}/messages",
        {"role": "assistant", "content": "Hello!"},
        format="json",
    )
    assert response.status_code == 201
    message = Message.objects.get()
    assert response.json()["id"] == message.pk
    assert (message.chat, message.role, message.content) == (chat, "assistant", "Hello!")


@pytest.mark.parametrize(
    "body", [{}, {"content": ""}, {"content": "   "}, {"content": "x", "role": "robot"}]
)
def test_post_a_bad_message_is_400(key_client, chat, body):
    response = key_client.post(f"/api/v1/chats/{chat.uuid}/messages", body, format="json")
    assert response.status_code == 400
    assert response.json()["detail"].startswith("Invalid body:")
    assert not Message.objects.exists()


def test_messages_of_another_tenants_chat_are_404(key_client, foreign_chat):
    MessageFactory(chat=foreign_chat)
    path = f"/api/v1/chats/{foreign_chat.uuid}/messages"
    assert key_client.get(path).status_code == 404
    response = key_client.post(path, {"content": "hi"}, format="json")
    assert response.status_code == 404
    assert response.json() == {"detail": "Chat not found"}
    assert Message.objects.count() == 1


# --------------------------------------------------------------------------- export


def test_export_has_the_chat_its_messages_and_files(key_client, chat, tenant_user):
    MessageFactory(chat=chat, content="one")
    MessageFactory(chat=chat, content="two", role="assistant")
    FileFactory(owner=tenant_user, chat=chat, name="notes.txt")

    response = key_client.get(f"/api/v1/chats/{chat.uuid}/export")

    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="chat-{chat.uuid}.json"'
    )
    body = response.json()
    assert body["chat"]["id"] == str(chat.uuid)
    assert [(m["role"], m["content"]) for m in body["messages"]] == [
        ("user", "one"),
        ("assistant", "two"),
    ]
    assert [f["name"] for f in body["files"]] == ["notes.txt"]
    assert body["exported_at"].endswith("Z")


def test_export_then_delete(key_client, chat):
    MessageFactory(chat=chat, content="keep me")
    exported = key_client.get(f"/api/v1/chats/{chat.uuid}/export").json()
    assert key_client.delete(f"/api/v1/chats/{chat.uuid}").status_code == 200
    assert exported["messages"][0]["content"] == "keep me"
    assert key_client.get(f"/api/v1/chats/{chat.uuid}/export").status_code == 404


def test_export_of_another_tenants_chat_is_404(key_client, foreign_chat):
    response = key_client.get(f"/api/v1/chats/{foreign_chat.uuid}/export")
    assert response.status_code == 404
    assert response.json() == {"detail": "Chat not found"}


# --------------------------------------------------------------------------- keys


def test_keys_are_stored_only_as_hashes(api_key):
    key, secret = api_key
    key.refresh_from_db()
    assert key.key_hash == hash_secret(secret)
    assert secret not in {key.key_hash, key.prefix, key.name}
    assert not ApiKey.objects.filter(key_hash=secret).exists()


def test_use_updates_last_used_at(key_client, api_key, chat):
    key, _ = api_key
    assert key.last_used_at is None
    before = timezone.now()
    key_client.get(f"/api/v1/chats/{chat.uuid}")
    key.refresh_from_db()
    assert key.last_used_at is not None and key.last_used_at >= before


def test_revoking_one_key_leaves_the_tenants_other_keys_working(api_client, tenant, chat):
    revoked, revoked_secret = ApiKey.generate(tenant=tenant, name="old")
    _, good_secret = ApiKey.generate(tenant=tenant, name="new")
    ApiKey.objects.filter(pk=revoked.pk).update(revoked_at=timezone.now())
    path = f"/api/v1/chats/{chat.uuid}"
    assert api_client.get(path, HTTP_X_API_KEY=revoked_secret).status_code == 401
    assert api_client.get(path, HTTP_X_API_KEY=good_secret).status_code == 200


def test_too_many_failed_attempts_are_429_in_the_detail_shape(api_client, chat, api_key, settings):
    settings.AUTH_FAILURE_LIMIT = 2
    path = f"/api/v1/chats/{chat.uuid}"
    for _ in range(2):
        assert api_client.get(path, HTTP_X_API_KEY="nk_guess").status_code == 401
    response = api_client.delete(path, HTTP_X_API_KEY=api_key[1])
    assert response.status_code == 429
    assert set(response.json()) == {"detail"}
    assert response.headers["Retry-After"]
    assert Chat.objects.filter(pk=chat.pk).exists()


def test_a_key_reaches_only_its_own_tenant(api_client, chat, foreign_chat):
    _, foreign_secret = ApiKey.generate(tenant=foreign_chat.owner.tenant)
    response = api_client.delete(f"/api/v1/chats/{chat.uuid}", HTTP_X_API_KEY=foreign_secret)
    assert response.status_code == 404
    assert Chat.objects.filter(pk=chat.pk).exists()


# --------------------------------------------------------------------------- schema


def test_openapi_documents_the_v1_paths_and_the_409():
    from django.urls import include, path
    from drf_spectacular.generators import SchemaGenerator

    patterns = [path("api/v1/", include("neptun.api.v1.urls"))]
    schema = SchemaGenerator(patterns=patterns).get_schema(request=None, public=True)
    assert set(schema["paths"]) == {
        "/api/v1/chats",
        "/api/v1/chats/{chat_uuid}",
        "/api/v1/chats/{chat_uuid}/messages",
        "/api/v1/chats/{chat_uuid}/export",
        "/api/v1/chats/{chat_uuid}/files/{file_id}/content",
    }
    delete = schema["paths"]["/api/v1/chats/{chat_uuid}"]["delete"]
    assert {"200", "401", "404", "409"} <= set(delete["responses"])
    assert delete["security"] == [{"tenantApiKey": []}]
    listing = schema["paths"]["/api/v1/chats"]["get"]
    names = {p["name"] for p in listing["parameters"]}
    assert {"limit", "offset", "user", "conversation_type", "project", "title"} <= names


@pytest.mark.parametrize(
    ("params", "field"),
    [({"created_before": "yesterday"}, "created_before"), ({"user": "x"}, "user")],
)
def test_a_bad_query_parameter_is_called_a_query_not_a_body(key_client, params, field):
    response = key_client.get(LIST, params)

    assert response.status_code == 400
    body = response.json()
    assert body["detail"].startswith(f"Invalid query: {field}: ")
    assert "body" not in body["detail"]
    assert field in body["errors"]
