"""Presence across real server processes sharing one PostgreSQL database.

Two daphne processes serve the app on loopback, pointed at the test database; the
data each test makes is committed (``transactional_db``) so they see it. Redis is
deliberately not configured: presence must work through the database alone.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
import requests
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from chats import services
from chats.models import Chat, ChatConnection, Message
from neptun.models import ApiKey
from tests.factories import ChatFactory, MessageFactory, TenantFactory, UserFactory
from tests.servers import daphne, serve, server_env

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
]

TTL = 3  # seconds; each socket beats every second
TIMEOUT = 10


@pytest.fixture(scope="module")
def servers(django_db_setup, tmp_path_factory) -> Iterator[tuple[str, str]]:
    env = server_env(
        CHAT_CONNECTION_TTL=str(TTL),
        MEDIA_ROOT=str(tmp_path_factory.mktemp("media")),
    )
    with serve(daphne, env) as (a, _), serve(daphne, env) as (b, _):
        yield a, b


@pytest.fixture
def world():
    tenant = TenantFactory()
    chat = ChatFactory(owner=UserFactory(tenant=tenant))
    MessageFactory(chat=chat)
    _, secret = ApiKey.generate(tenant=tenant)
    return chat, secret


def _socket(server: str, chat: Chat, secret: str):
    return connect(
        f"ws://{server}/ws/v1/chats/{chat.uuid}/",
        additional_headers={"X-API-Key": secret},
        open_timeout=TIMEOUT,
        close_timeout=TIMEOUT,
    )


def _delete(server: str, chat: Chat, secret: str) -> requests.Response:
    return requests.delete(
        f"http://{server}/api/v1/chats/{chat.uuid}",
        headers={"X-API-Key": secret},
        timeout=TIMEOUT,
    )


def test_a_socket_on_one_process_makes_a_delete_on_the_other_answer_409(servers, world):
    a, b = servers
    chat, secret = world

    with _socket(a, chat, secret) as ws:
        assert json.loads(ws.recv(timeout=TIMEOUT)) == {"type": "connected", "chat": str(chat.uuid)}

        refused = _delete(b, chat, secret)

        assert refused.status_code == 409
        assert refused.json()["active_connections"] == 1
        assert Chat.objects.filter(pk=chat.pk).exists()
        assert Message.objects.filter(chat=chat).count() == 1
        # The socket still works after the refused delete.
        ws.send(json.dumps({"type": "ping"}))
        assert json.loads(ws.recv(timeout=TIMEOUT)) == {"type": "pong"}

    # The close handshake is done; process A removes the record right after it.
    deadline = time.monotonic() + TIMEOUT
    response = _delete(b, chat, secret)
    while response.status_code == 409 and time.monotonic() < deadline:
        time.sleep(0.1)
        response = _delete(b, chat, secret)

    assert response.status_code == 200, response.text
    assert response.json()["success"] is True
    assert not Chat.objects.filter(pk=chat.pk).exists()
    assert not Message.objects.filter(chat_id=chat.pk).exists()
    assert not ChatConnection.objects.exists()


def test_a_wrong_key_or_another_tenants_chat_is_refused_at_the_handshake(servers, world):
    a, _ = servers
    chat, _ = world
    _, foreign_secret = ApiKey.generate(tenant=TenantFactory())
    for key in ("nk_wrong", foreign_secret):
        with pytest.raises(InvalidStatus) as refused:
            _socket(a, chat, key)
        assert refused.value.response.status_code == 403
    assert not ChatConnection.objects.exists()


def test_a_delete_elsewhere_closes_the_socket_on_this_process(servers, world):
    """An admin/command deletion in a third process (this one) reaches process A's socket
    through the database heartbeat, without a shared channel layer."""
    a, _ = servers
    chat, secret = world

    with _socket(a, chat, secret) as ws:
        assert json.loads(ws.recv(timeout=TIMEOUT))["type"] == "connected"
        ctx = services.DeletionContext(actor=None, interface="command", endpoint="test")
        services.chats_delete(chats=Chat.objects.filter(pk=chat.pk), ctx=ctx)

        event = json.loads(ws.recv(timeout=TTL + TIMEOUT))
        assert event == {"type": "chat.deleted", "chat": str(chat.uuid)}
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=TIMEOUT)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4404
