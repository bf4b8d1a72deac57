"""Production-style workers: two uvicorn processes sharing PostgreSQL and Redis.

Like workers behind a load balancer, each serves its own share of clients. With
``REDIS_URL`` set, a deletion served by one worker reaches a socket held by another
at once through the Redis channel layer (the TTL here is long, so the heartbeat
cannot be what closes it), presence answers 409 across workers, and a message
posted through one worker reaches a socket on the other.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import requests
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from neptun.models import AccessToken, ApiKey
from tests.factories import ChatFactory, TenantFactory, UserFactory
from tests.servers import HOST, serve, server_env, uvicorn

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
]

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
TTL = 600  # the heartbeat (TTL/3) is far slower than anything these tests wait for
TIMEOUT = 10


def _redis_up() -> bool:
    try:
        with socket.create_connection((HOST, 6379), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture(scope="module")
def workers(django_db_setup, tmp_path_factory) -> Iterator[tuple[str, str]]:
    if not _redis_up():
        if os.environ.get("CI") == "true":
            pytest.fail("Redis is not running on 127.0.0.1:6379 (.ci/run starts it)")
        pytest.skip("Redis is not running on 127.0.0.1:6379")
    env = server_env(
        REDIS_URL=REDIS_URL,
        DEBUG="0",
        SECRET_KEY="test-only-secret-key-for-production-style-workers-0123456789abcdef",
        ALLOWED_HOSTS=HOST,
        CHAT_CONNECTION_TTL=str(TTL),
        MEDIA_ROOT=str(tmp_path_factory.mktemp("media")),
        STATIC_ROOT=str(tmp_path_factory.mktemp("static")),
    )
    with serve(uvicorn, env) as (a, _), serve(uvicorn, env) as (b, _):
        yield a, b


@pytest.fixture
def world():
    tenant = TenantFactory()
    owner = UserFactory(tenant=tenant)
    chat = ChatFactory(owner=owner)
    _, key = ApiKey.generate(tenant=tenant)
    _, token = AccessToken.generate(user=owner)
    return chat, key, token


@contextmanager
def _socket(worker: str, chat, key: str):
    url = f"ws://{worker}/ws/v1/chats/{chat.uuid}/"
    with connect(url, additional_headers={"X-API-Key": key}, open_timeout=TIMEOUT) as ws:
        assert json.loads(ws.recv(timeout=TIMEOUT))["type"] == "connected"
        yield ws


def test_presence_and_messages_cross_workers(workers, world):
    a, b = workers
    chat, key, _ = world
    with _socket(a, chat, key) as ws:
        response = requests.delete(
            f"http://{b}/api/v1/chats/{chat.uuid}", headers={"X-API-Key": key}, timeout=TIMEOUT
        )
        assert response.status_code == 409
        assert response.json()["active_connections"] == 1
        posted = requests.post(
            f"http://{b}/api/v1/chats/{chat.uuid}/messages",
            headers={"X-API-Key": key},
            json={"content": "hello from b"},
            timeout=TIMEOUT,
        )
        assert posted.status_code == 201, posted.text
        event = json.loads(ws.recv(timeout=TIMEOUT))
        assert event["type"] == "message"
        assert event["message"]["content"] == "hello from b"
    # The client's close returns before the server has removed the socket's presence
    # record (its disconnect handler runs after the close handshake): a busy machine
    # may answer 409 for a moment. A closed socket must stop counting within seconds.
    for _ in range(50):
        response = requests.delete(
            f"http://{b}/api/v1/chats/{chat.uuid}", headers={"X-API-Key": key}, timeout=TIMEOUT
        )
        if response.status_code != 409:
            break
        time.sleep(0.1)
    assert response.status_code == 200


def test_a_deletion_on_one_worker_closes_sockets_on_the_other_at_once(workers, world):
    a, b = workers
    chat, key, token = world
    with _socket(a, chat, key) as ws:
        response = requests.request(
            "DELETE",
            f"http://{b}/api/chat/conversations/all",
            headers={"Authorization": f"Bearer {token}"},
            json={},
            timeout=TIMEOUT,
        )
        assert response.status_code == 200, response.text
        assert response.json()["deleted_stats"]["conversations_deleted"] == 1
        event = json.loads(ws.recv(timeout=TIMEOUT))
        assert event == {"type": "chat.deleted", "chat": str(chat.uuid)}
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=TIMEOUT)
        # It came through Redis: the heartbeat, the only other path, runs every
        # TTL/3 = 200 s, far beyond the receive timeouts above.
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4404
