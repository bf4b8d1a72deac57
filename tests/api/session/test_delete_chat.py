"""``DELETE /api/users/{user_id}/chats/{chat_id}``: every status and exact body."""

from __future__ import annotations

import pytest
from django.core.files.storage import default_storage
from rest_framework.test import APIClient

from chats import services
from chats.deletion import audit
from chats.models import Chat, ChatConnection, Message
from collections_app.models import Collection, File
from neptun.models import DeletionRecord
from projects.models import Project, ProjectChat
from tests.factories import ChatFactory

from .helpers import INTERNAL_ERROR, chat_url, not_found, row_counts

pytestmark = pytest.mark.django_db

HUGE = "99999999999999999999999"


def test_delete_returns_true_and_takes_what_belongs_to_the_chat(
    session_client, user, world, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = session_client.delete(chat_url(user.pk, world.chat.pk))

    assert response.status_code == 200
    assert response.content == b"true"
    assert response["Content-Type"] == "application/json"
    # Gone: the chat, its messages, links, live-connection records, its own file + blob.
    assert not Chat.objects.filter(pk=world.chat.pk).exists()
    assert not Message.objects.filter(chat_id=world.chat.pk).exists()
    assert not ProjectChat.objects.filter(chat_id=world.chat.pk).exists()
    assert not ChatConnection.objects.filter(chat_id=world.chat.pk).exists()
    assert not File.objects.filter(pk=world.own_file.pk).exists()
    assert not default_storage.exists(world.own_file.blob.name)
    # Stay: the project, the collection and its file (which only loses its chat link).
    assert Project.objects.filter(pk=world.project.pk).exists()
    assert Collection.objects.filter(pk=world.collection.pk).exists()
    world.collection_file.refresh_from_db()
    assert world.collection_file.chat_id is None
    assert default_storage.exists(world.collection_file.blob.name)
    # The other user's data is untouched.
    assert Chat.objects.filter(pk=world.other_chat.pk).exists()
    assert Message.objects.filter(chat=world.other_chat).count() == 1


def test_delete_is_recorded_with_actor_interface_and_endpoint(session_client, user, world):
    response = session_client.delete(chat_url(user.pk, world.chat.pk))

    assert response.status_code == 200
    record = DeletionRecord.objects.get()
    assert record.actor == user
    assert record.actor_email == user.email
    assert record.interface == "api"
    assert record.endpoint == f"DELETE {chat_url(user.pk, world.chat.pk)}"
    assert record.remote_addr == "127.0.0.1"
    assert record.counts["chats"] == 1
    assert record.counts["messages"] == 3


def test_delete_calls_the_deletion_service(session_client, user, world, monkeypatch):
    calls = []
    real = services.chat_delete

    def spy(*, chat, ctx, **kwargs):
        calls.append((chat.pk, ctx.actor, ctx.interface))
        return real(chat=chat, ctx=ctx, **kwargs)

    monkeypatch.setattr(services, "chat_delete", spy)
    response = session_client.delete(chat_url(user.pk, world.chat.pk))

    assert (response.status_code, response.json()) == (200, True)
    assert calls == [(world.chat.pk, user, "api")]


def test_deleting_twice_is_404_the_second_time(session_client, user, world):
    first = session_client.delete(chat_url(user.pk, world.chat.pk))
    second = session_client.delete(chat_url(user.pk, world.chat.pk))

    assert (first.status_code, first.json()) == (200, True)
    assert (second.status_code, second.json()) == (404, not_found("Chat not found"))


@pytest.mark.parametrize(
    "chat_id", ["999999", "abc", "1.5", "-1", "0", "+1", " 1", "1e3", "١٢", HUGE, "9" * 5000]
)
def test_unknown_or_malformed_chat_id_is_404_chat_not_found(session_client, user, world, chat_id):
    before = row_counts()

    response = session_client.delete(chat_url(user.pk, chat_id))

    assert response.status_code == 404
    assert response.json() == not_found("Chat not found")
    assert response.content == (
        b'{"statusCode":404,"statusMessage":"Not Found","data":{"message":"Chat not found"}}'
    )
    assert row_counts() == before


def test_other_users_chat_is_404_and_stays(session_client, user, world):
    before = row_counts()

    response = session_client.delete(chat_url(user.pk, world.other_chat.pk))

    assert response.status_code == 404
    assert response.json() == not_found("Chat not found")
    assert row_counts() == before
    assert Chat.objects.filter(pk=world.other_chat.pk).exists()


@pytest.mark.parametrize("which", ["other", "unknown", "abc", "huge", "zero"])
def test_path_user_that_is_not_the_session_user_is_404_user_not_found(
    session_client, user, other_user, world, which
):
    user_id = {
        "other": other_user.pk,
        "unknown": 987654,
        "abc": "abc",
        "huge": HUGE,
        "zero": 0,
    }[which]
    before = row_counts()

    # Whoever's chat it is, and whether or not it exists.
    for chat in (world.chat, world.other_chat):
        response = session_client.delete(chat_url(user_id, chat.pk))
        assert response.status_code == 404
        assert response.json() == not_found("User not found")
    assert row_counts() == before


def test_no_session_is_401(api_client, user, world):
    before = row_counts()

    response = api_client.delete(chat_url(user.pk, world.chat.pk))

    assert response.status_code == 401
    body = response.json()
    assert set(body) == {"statusCode", "statusMessage", "message"}
    assert body["statusCode"] == 401
    assert body["statusMessage"] == "Unauthorized"
    assert body["message"]
    assert response["WWW-Authenticate"] == 'Cookie realm="neptun-session"'
    assert row_counts() == before


def test_bogus_session_cookie_is_401(user, world):
    client = APIClient()
    client.cookies["neptun-session"] = "not-a-session-key"
    before = row_counts()

    response = client.delete(chat_url(user.pk, world.chat.pk))

    assert response.status_code == 401
    assert response.json()["statusMessage"] == "Unauthorized"
    assert row_counts() == before


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Origin": "http://testserver.evil.example"},
        {"Origin": "null"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
        {"Origin": "https://evil.example", "Sec-Fetch-Site": "same-origin"},
    ],
)
def test_cross_site_request_is_403_and_deletes_nothing(session_client, user, world, headers):
    before = row_counts()

    response = session_client.delete(chat_url(user.pk, world.chat.pk), headers=headers)

    assert response.status_code == 403
    assert response.json() == {
        "statusCode": 403,
        "statusMessage": "Forbidden",
        "message": "Cross-site request refused.",
    }
    assert row_counts() == before


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Origin": "http://testserver"},
        {"Origin": "http://localhost:8000"},  # one of TRUSTED_ORIGINS
        {"Sec-Fetch-Site": "same-origin"},
        {"Sec-Fetch-Site": "none"},
        {"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"},
    ],
)
def test_same_origin_and_headerless_requests_delete(session_client, user, world, headers):
    response = session_client.delete(chat_url(user.pk, world.chat.pk), headers=headers)

    assert (response.status_code, response.json()) == (200, True)
    assert not Chat.objects.filter(pk=world.chat.pk).exists()


def test_server_error_is_500_without_details_and_rolls_back(
    session_client, user, world, monkeypatch, caplog
):
    """A failure after the rows were deleted undoes the whole deletion."""

    def broken_record(ctx, result):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(audit, "write", broken_record)
    before = row_counts()

    response = session_client.delete(chat_url(user.pk, world.chat.pk))

    assert response.status_code == 500
    assert response.json() == INTERNAL_ERROR
    assert b"secret" not in response.content
    assert row_counts() == before
    assert Message.objects.filter(chat=world.chat).count() == 3
    assert "secret internals" in caplog.text  # logged for the operators


def test_answers_json_whatever_accept_says(session_client, user, world):
    response = session_client.delete(chat_url(user.pk, "nope"), headers={"Accept": "text/html"})

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == not_found("Chat not found")


def test_other_methods_are_405_in_the_dialects_shape(session_client, user, world):
    response = session_client.put(chat_url(user.pk, world.chat.pk), {}, format="json")

    assert response.status_code == 405
    assert response.json() == {
        "statusCode": 405,
        "statusMessage": "Method Not Allowed",
        "message": 'Method "PUT" not allowed.',
    }
    assert Chat.objects.filter(pk=world.chat.pk).exists()


def test_only_the_named_chat_goes(session_client, user, world):
    sibling = ChatFactory(owner=user)

    response = session_client.delete(chat_url(user.pk, world.chat.pk))

    assert (response.status_code, response.json()) == (200, True)
    assert Chat.objects.filter(pk=sibling.pk).exists()
