"""``DELETE /api/v1/chats/{uuid}``: every status code and body of the spec."""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from chats.models import Chat, ChatConnection, Message
from collections_app.models import File
from neptun.models import DeletionRecord
from projects.models import ProjectChat
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

ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
UNAUTHORIZED = {"detail": "Invalid or missing API key"}
NOT_FOUND = {"detail": "Chat not found"}


def url(chat_id) -> str:
    return f"/api/v1/chats/{chat_id}"


def test_delete_returns_the_spec_body_and_deletes_everything_of_the_chat(
    key_client, chat, tenant_user, django_capture_on_commit_callbacks
):
    MessageFactory.create_batch(3, chat=chat)
    link = ProjectChatFactory(chat=chat, project__owner=tenant_user)
    own_file = FileFactory(owner=tenant_user, chat=chat)
    collection = CollectionFactory(owner=tenant_user)
    kept_file = FileFactory(owner=tenant_user, chat=chat, collection=collection)
    other = ChatFactory(owner=tenant_user)
    MessageFactory(chat=other)
    before = timezone.now().replace(microsecond=0)

    with django_capture_on_commit_callbacks(execute=True):
        response = key_client.delete(url(chat.uuid))

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"success", "message", "deleted_at"}
    assert body["success"] is True
    assert body["message"] == "Chat deleted successfully"
    assert ISO_Z.match(body["deleted_at"]), body["deleted_at"]
    deleted_at = datetime.fromisoformat(body["deleted_at"].replace("Z", "+00:00"))
    assert before <= deleted_at <= timezone.now()
    assert not Chat.objects.filter(pk=chat.pk).exists()
    assert not Message.objects.filter(chat_id=chat.pk).exists()
    assert not ProjectChat.objects.filter(pk=link.pk).exists()
    assert not File.objects.filter(pk=own_file.pk).exists()
    kept_file.refresh_from_db()
    assert kept_file.chat_id is None and kept_file.collection_id == collection.pk
    assert Chat.objects.filter(pk=other.pk).exists()
    assert Message.objects.filter(chat=other).count() == 1


def test_delete_is_recorded_with_the_key_and_the_tenant(key_client, chat, api_key, tenant):
    response = key_client.delete(url(chat.uuid), REMOTE_ADDR="127.0.0.9")
    assert response.status_code == 200
    record = DeletionRecord.objects.get()
    assert record.interface == "api"
    assert record.actor is None
    assert str(chat.uuid) in record.endpoint
    assert api_key[0].prefix in record.endpoint and tenant.name in record.endpoint
    assert record.remote_addr == "127.0.0.9"
    assert record.counts["chats"] == 1


def test_delete_accepts_a_trailing_slash(key_client, chat):
    assert key_client.delete(url(chat.uuid) + "/").status_code == 200
    assert not Chat.objects.filter(pk=chat.pk).exists()


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"HTTP_X_API_KEY": ""},
        {"HTTP_X_API_KEY": "nk_not-a-real-key"},
        {"HTTP_AUTHORIZATION": "Bearer something"},
    ],
    ids=["missing", "empty", "unknown", "wrong-header"],
)
def test_delete_without_a_valid_key_is_401_and_deletes_nothing(api_client, chat, headers):
    response = api_client.delete(url(chat.uuid), **headers)
    assert response.status_code == 401
    assert response.json() == UNAUTHORIZED
    assert response.headers["WWW-Authenticate"] == "X-API-Key"
    assert Chat.objects.filter(pk=chat.pk).exists()


def test_delete_with_a_revoked_key_is_401_at_once(key_client, api_key, chat):
    key, _ = api_key
    assert key_client.get(url(chat.uuid)).status_code == 200
    key.revoked_at = timezone.now()
    key.save(update_fields=["revoked_at"])

    response = key_client.delete(url(chat.uuid))

    assert response.status_code == 401
    assert response.json() == UNAUTHORIZED
    assert Chat.objects.filter(pk=chat.pk).exists()


@pytest.mark.parametrize(
    "chat_id",
    [
        str(uuid.uuid4()),
        "not-a-uuid",
        "12345",
        "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5dX",
        "%00",
        "x" * 500,
    ],
    ids=["unknown", "words", "integer", "too-long", "nul", "huge"],
)
def test_delete_of_an_unknown_or_malformed_id_is_404(key_client, chat, chat_id):
    response = key_client.delete(url(chat_id))
    assert response.status_code == 404
    assert response.json() == NOT_FOUND
    assert Chat.objects.filter(pk=chat.pk).exists()


def test_delete_by_integer_id_of_an_existing_chat_is_404(key_client, chat):
    response = key_client.delete(url(chat.pk))
    assert response.status_code == 404
    assert response.json() == NOT_FOUND
    assert Chat.objects.filter(pk=chat.pk).exists()


def test_another_tenants_chat_is_404_like_an_unknown_one_and_stays(key_client, foreign_chat):
    MessageFactory(chat=foreign_chat)

    response = key_client.delete(url(foreign_chat.uuid))

    assert response.status_code == 404
    assert response.json() == NOT_FOUND
    assert Chat.objects.filter(pk=foreign_chat.pk).exists()
    assert Message.objects.filter(chat=foreign_chat).count() == 1
    assert not DeletionRecord.objects.exists()
    unknown = key_client.delete(url(uuid.uuid4()))
    assert (unknown.status_code, unknown.json()) == (response.status_code, response.json())


def test_a_user_without_tenant_is_out_of_every_tenants_reach(key_client):
    loner = ChatFactory(owner=UserFactory(tenant=None))
    assert key_client.delete(url(loner.uuid)).status_code == 404
    assert Chat.objects.filter(pk=loner.pk).exists()


def test_live_connections_make_it_409_and_nothing_is_deleted(key_client, chat):
    MessageFactory(chat=chat)
    ChatConnectionFactory.create_batch(2, chat=chat)

    response = key_client.delete(url(chat.uuid))

    assert response.status_code == 409
    body = response.json()
    assert set(body) == {"detail", "active_connections"}
    assert body["active_connections"] == 2
    assert "active" in body["detail"].lower() and "connection" in body["detail"].lower()
    assert Chat.objects.filter(pk=chat.pk).exists()
    assert Message.objects.filter(chat=chat).count() == 1
    assert ChatConnection.objects.filter(chat=chat).count() == 2
    assert not DeletionRecord.objects.exists()


def test_stale_heartbeats_do_not_block_and_are_deleted_with_the_chat(key_client, chat, settings):
    settings.CHAT_CONNECTION_TTL = 60
    stale = timezone.now() - timedelta(seconds=61)
    ChatConnectionFactory(chat=chat, last_seen_at=stale)

    response = key_client.delete(url(chat.uuid))

    assert response.status_code == 200
    assert not ChatConnection.objects.exists()


def test_only_fresh_connections_are_counted(key_client, chat, settings):
    settings.CHAT_CONNECTION_TTL = 60
    ChatConnectionFactory(chat=chat, last_seen_at=timezone.now() - timedelta(seconds=120))
    ChatConnectionFactory(chat=chat)

    response = key_client.delete(url(chat.uuid))

    assert response.status_code == 409
    assert response.json()["active_connections"] == 1


def test_connections_of_another_chat_do_not_block(key_client, chat, tenant_user):
    ChatConnectionFactory(chat=ChatFactory(owner=tenant_user))
    assert key_client.delete(url(chat.uuid)).status_code == 200


def test_a_second_delete_is_404(key_client, chat):
    assert key_client.delete(url(chat.uuid)).status_code == 200
    response = key_client.delete(url(chat.uuid))
    assert response.status_code == 404
    assert response.json() == NOT_FOUND


def test_delete_is_atomic_when_the_service_fails_midway(key_client, chat, monkeypatch):
    """A failure after rows were deleted rolls everything back and answers a bare 500."""
    from chats.deletion import engine

    MessageFactory.create_batch(2, chat=chat)

    execute = engine.execute

    def execute_then_fail(*args, **kwargs):
        execute(*args, **kwargs)  # the rows are gone inside the transaction …
        assert not Message.objects.filter(chat=chat).exists()
        raise RuntimeError("disk on fire: secret detail")  # … and then it fails

    monkeypatch.setattr(engine, "execute", execute_then_fail)
    key_client.raise_request_exception = False

    response = key_client.delete(url(chat.uuid))

    assert response.status_code == 500
    assert response.json() == {"detail": "Internal server error"}
    assert "secret" not in response.content.decode()
    assert Chat.objects.filter(pk=chat.pk).exists()
    assert Message.objects.filter(chat=chat).count() == 2
