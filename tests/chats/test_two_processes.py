"""Presence across real server processes sharing one PostgreSQL database.

Two daphne processes serve the app on loopback, pointed at the test database; the
data each test makes is committed (``transactional_db``) so they see it. Redis is
deliberately not configured: presence must work through the database alone.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import pytest
import requests
from django.db import connection
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from chats import services
from chats.models import Chat, ChatConnection, Message
from neptun.models import ApiKey
from tests.factories import ChatFactory, MessageFactory, TenantFactory, UserFactory

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
]

REPO = Path(__file__).resolve().parent.parent.parent
HOST = "127.0.0.1"
TTL = 3  # seconds; each socket beats every second
STARTUP_TIMEOUT = 40
TIMEOUT = 10
APP = ["neptun.asgi:application"]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def _database_url() -> str:
    """The pytest-django test database, as a URL for the server processes."""
    s = connection.settings_dict
    auth = quote(s["USER"] or "", safe="")
    if s["PASSWORD"]:
        auth += ":" + quote(s["PASSWORD"], safe="")
    return f"postgres://{auth}@{s['HOST'] or HOST}:{s['PORT'] or 5432}/{s['NAME']}"


def _output(log) -> str:
    log.seek(0)
    return log.read().decode(errors="replace")[-4000:]


@contextmanager
def _server(env: dict[str, str]) -> Iterator[str]:
    """A daphne process serving ``neptun.asgi`` on a free loopback port."""
    port = _free_port()
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "daphne", "-b", HOST, "-p", str(port), *APP],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            base = f"http://{HOST}:{port}"
            deadline = time.monotonic() + STARTUP_TIMEOUT
            while True:
                if process.poll() is not None:
                    pytest.fail(f"server exited with {process.returncode}:\n{_output(log)}")
                try:
                    requests.get(f"{base}/api/v1/chats", timeout=1)
                    break
                except requests.RequestException:
                    if time.monotonic() > deadline:
                        pytest.fail(f"server not ready in {STARTUP_TIMEOUT}s:\n{_output(log)}")
                    time.sleep(0.2)
            yield f"{HOST}:{port}"
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


@pytest.fixture(scope="module")
def servers(django_db_setup, tmp_path_factory) -> Iterator[tuple[str, str]]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"REDIS_URL", "DJANGO_SETTINGS_MODULE", "PYTEST_CURRENT_TEST"}
    }
    env.update(
        DJANGO_SETTINGS_MODULE="neptun.settings.base",
        DATABASE_URL=_database_url(),
        DEBUG="1",
        CHAT_CONNECTION_TTL=str(TTL),
        MEDIA_ROOT=str(tmp_path_factory.mktemp("media")),
        LOG_LEVEL="WARNING",
    )
    with _server(env) as a, _server(env) as b:
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
