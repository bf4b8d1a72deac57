"""Write limits of every door that stores a message: the cookie dialect's
``POST …/messages``, the v1 ``POST /api/v1/chats/{uuid}/messages`` and the v1
WebSocket (the conversations dialect stores no messages).

- Content: at most ``MAX_MESSAGE_LENGTH`` characters, no NUL — over it, the
  dialect's 400 or an ``error`` frame, the socket stays open, nothing is stored.
- Posts: at most ``MESSAGE_RATE`` per principal (an API key — its REST posts and its
  sockets share one budget — or a user); over it, the dialect's 429 with
  ``Retry-After`` or a ``rate_limited`` error frame, nothing stored. Another key or
  user is not affected. See docs/limits.md.
"""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from rest_framework.test import APIClient

from chats.models import Message
from neptun.asgi import application
from neptun.models import ApiKey
from tests.factories import UserFactory
from tests.security.conftest import Victim, login, snapshot

TIMEOUT = 5
DEFAULT_CAP = 100_000  # MAX_MESSAGE_LENGTH's default (docs/limits.md)
REST = ("session", "v1")


def _client(door: str, victim: Victim) -> APIClient:
    if door == "session":
        return login(victim.user)
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=victim.api_key)
    return client


def _url(door: str, victim: Victim) -> str:
    if door == "session":
        return f"/api/users/{victim.user.pk}/chats/{victim.chat.pk}/messages"
    return f"/api/v1/chats/{victim.chat.uuid}/messages"


def _assert_invalid_content(door: str, response, detail: str, **extra) -> None:
    assert response.status_code == 400, response.content
    body = response.json()
    if door == "session":
        assert body == {
            "statusCode": 400,
            "statusMessage": "Bad Request",
            "message": "Invalid body(content)",
            "data": {"errors": {"content": [detail]}, **extra},
        }
    else:
        assert body == {
            "detail": f"Invalid body: {detail}",
            "errors": {"content": [detail]},
            **extra,
        }


def _assert_throttled(door: str, response) -> None:
    assert response.status_code == 429, response.content
    assert 1 <= int(response["Retry-After"]) <= 60
    body = response.json()
    if door == "session":
        assert body == {
            "statusCode": 429,
            "statusMessage": "Too Many Requests",
            "message": "Too many requests, try again later",
        }
    else:
        assert set(body) == {"detail"} and isinstance(body["detail"], str), body


async def _open(victim: Victim, secret: str | None = None) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(
        application,
        f"/ws/v1/chats/{victim.chat.uuid}/",
        headers=[(b"x-api-key", (secret or victim.api_key).encode())],
    )
    connected, _ = await communicator.connect(timeout=TIMEOUT)
    assert connected
    assert (await communicator.receive_json_from(TIMEOUT))["type"] == "connected"
    return communicator


async def _still_open(communicator: WebsocketCommunicator) -> None:
    await communicator.send_json_to({"type": "ping"})
    assert await communicator.receive_json_from(TIMEOUT) == {"type": "pong"}


@database_sync_to_async
def _stored(content: str) -> int:
    return Message.objects.filter(content=content).count()


@database_sync_to_async
def _snapshot() -> dict:
    """:func:`snapshot` but the sockets' presence records (each frame refreshes them)."""
    rows = snapshot()
    del rows["ChatConnection"]
    return rows


# --------------------------------------------------------------------------- content cap


@pytest.mark.django_db
@pytest.mark.parametrize("door", REST)
def test_rest_stores_a_message_of_exactly_the_cap_and_refuses_one_more(victim, door):
    client, url = _client(door, victim), _url(door, victim)
    at_cap = "é" * DEFAULT_CAP  # characters, not bytes: 200 kB of UTF-8

    assert client.post(url, {"content": at_cap}, format="json").status_code == 201
    assert Message.objects.filter(chat=victim.chat, content=at_cap).count() == 1

    before = snapshot()
    response = client.post(url, {"content": at_cap + "x"}, format="json")
    _assert_invalid_content(
        door,
        response,
        f'"content" is longer than {DEFAULT_CAP} characters.',
        max_length=DEFAULT_CAP,
    )
    assert snapshot() == before


@pytest.mark.django_db
@pytest.mark.parametrize("door", REST)
def test_the_cap_is_a_setting(victim, door, settings):
    settings.MAX_MESSAGE_LENGTH = 10
    client, url = _client(door, victim), _url(door, victim)
    assert client.post(url, {"content": "0123456789"}, format="json").status_code == 201
    response = client.post(url, {"content": "0123456789!"}, format="json")
    _assert_invalid_content(
        door, response, '"content" is longer than 10 characters.', max_length=10
    )


@pytest.mark.django_db
@pytest.mark.parametrize("door", REST)
def test_rest_refuses_nul_characters(victim, door):
    client = _client(door, victim)
    before = snapshot()
    response = client.post(_url(door, victim), {"content": "a\u0000b"}, format="json")
    assert response.status_code == 400
    assert snapshot() == before


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_the_socket_stores_exactly_the_cap_and_refuses_one_more(victim):
    at_cap = "é" * DEFAULT_CAP
    communicator = await _open(victim)
    try:
        await communicator.send_json_to({"type": "message", "content": at_cap})
        assert (await communicator.receive_json_from(TIMEOUT))["type"] == "message.sent"
        assert await _stored(at_cap) == 1

        before = await _snapshot()
        await communicator.send_json_to({"type": "message", "content": at_cap + "x"})
        assert await communicator.receive_json_from(TIMEOUT) == {
            "type": "error",
            "detail": f'"content" is longer than {DEFAULT_CAP} characters.',
        }
        await _still_open(communicator)
        assert await _snapshot() == before
    finally:
        await communicator.disconnect()


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_the_socket_refuses_nul_characters_and_stays_open(victim):
    """On PostgreSQL this used to end in an unhandled DataError and close code 1011."""
    before = await _snapshot()
    communicator = await _open(victim)
    try:
        await communicator.send_json_to({"type": "message", "content": "a\u0000b"})
        assert await communicator.receive_json_from(TIMEOUT) == {
            "type": "error",
            "detail": '"content" must not contain NUL (\\u0000) characters.',
        }
        await _still_open(communicator)
        await communicator.send_json_to({"type": "message", "content": "ab"})
        assert (await communicator.receive_json_from(TIMEOUT))["type"] == "message.sent"
    finally:
        await communicator.disconnect()
    # Only "ab" was stored (PostgreSQL cannot even be asked about NUL in text).
    after = await _snapshot()
    assert after["Message"][:-1] == before["Message"]
    assert after["Message"][-1][2:4] == ("user", "ab")


# --------------------------------------------------------------------------- post budget


@pytest.mark.django_db
@pytest.mark.parametrize("door", REST)
def test_rest_posts_over_the_budget_are_429_and_store_nothing(victim, door, settings):
    settings.MESSAGE_RATE = "3/min"
    client, url = _client(door, victim), _url(door, victim)
    for n in range(3):
        assert client.post(url, {"content": f"m{n}"}, format="json").status_code == 201
    before = snapshot()

    response = client.post(url, {"content": "m3"}, format="json")

    _assert_throttled(door, response)
    assert snapshot() == before
    assert client.get(url).status_code == 200  # reading spends nothing


@pytest.mark.django_db
def test_another_key_or_user_has_its_own_budget(victim, settings):
    settings.MESSAGE_RATE = "1/min"
    v1_url, session_url = _url("v1", victim), _url("session", victim)
    key_client = _client("v1", victim)
    assert key_client.post(v1_url, {"content": "a"}, format="json").status_code == 201
    assert key_client.post(v1_url, {"content": "b"}, format="json").status_code == 429

    # A second key of the same tenant, and the chat's owner through the cookie dialect.
    other_key = APIClient()
    other_key.credentials(HTTP_X_API_KEY=ApiKey.generate(tenant=victim.user.tenant)[1])
    assert other_key.post(v1_url, {"content": "c"}, format="json").status_code == 201
    owner = _client("session", victim)
    assert owner.post(session_url, {"content": "d"}, format="json").status_code == 201
    assert owner.post(session_url, {"content": "e"}, format="json").status_code == 429

    # Another user of the cookie dialect (on a chat of their own).
    stranger = UserFactory(tenant=victim.user.tenant)
    chat = stranger.chats.create(title="theirs")
    response = login(stranger).post(
        f"/api/users/{stranger.pk}/chats/{chat.pk}/messages", {"content": "f"}, format="json"
    )
    assert response.status_code == 201


@pytest.mark.django_db
def test_an_empty_rate_means_no_budget(victim, settings):
    settings.MESSAGE_RATE = ""
    client, url = _client("v1", victim), _url("v1", victim)
    for n in range(70):
        assert client.post(url, {"content": f"m{n}"}, format="json").status_code == 201


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_socket_frames_over_the_budget_get_an_error_and_store_nothing(victim, settings):
    settings.MESSAGE_RATE = "3/min"
    communicator = await _open(victim)
    try:
        for n in range(3):
            await communicator.send_json_to({"type": "message", "content": f"m{n}"})
            assert (await communicator.receive_json_from(TIMEOUT))["type"] == "message.sent"
        before = await _snapshot()

        await communicator.send_json_to({"type": "message", "content": "m3"})

        frame = await communicator.receive_json_from(TIMEOUT)
        assert frame["type"] == "error" and frame["code"] == "rate_limited", frame
        assert 1 <= frame["retry_after"] <= 60
        assert isinstance(frame["detail"], str)
        await _still_open(communicator)
        assert await _snapshot() == before
    finally:
        await communicator.disconnect()


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_rest_and_sockets_of_one_key_share_the_budget(victim, settings):
    settings.MESSAGE_RATE = "3/min"
    client, url = _client("v1", victim), _url("v1", victim)
    post = database_sync_to_async(client.post)
    assert (await post(url, {"content": "rest 1"}, format="json")).status_code == 201
    assert (await post(url, {"content": "rest 2"}, format="json")).status_code == 201
    first, second = await _open(victim), await _open(victim)
    other_secret = await database_sync_to_async(
        lambda: ApiKey.generate(tenant=victim.user.tenant)[1]
    )()
    bystander = await _open(victim, other_secret)
    try:
        await first.send_json_to({"type": "message", "content": "socket 1"})
        assert (await first.receive_json_from(TIMEOUT))["type"] == "message.sent"
        assert (await second.receive_json_from(TIMEOUT))["type"] == "message"
        assert (await bystander.receive_json_from(TIMEOUT))["type"] == "message"

        # The budget is spent: another socket of the key, and its REST posts, are refused.
        await second.send_json_to({"type": "message", "content": "socket 2"})
        assert (await second.receive_json_from(TIMEOUT))["code"] == "rate_limited"
        _assert_throttled("v1", await post(url, {"content": "rest 3"}, format="json"))
        assert await _stored("socket 2") == await _stored("rest 3") == 0

        # Another key's socket is not affected.
        await bystander.send_json_to({"type": "message", "content": "other key"})
        assert (await bystander.receive_json_from(TIMEOUT))["type"] == "message.sent"
        assert await _stored("other key") == 1
    finally:
        for communicator in (first, second, bystander):
            await communicator.disconnect()
