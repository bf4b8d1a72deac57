"""Sockets meet retention and erasure: an expiring temporary chat, an erased user."""

from __future__ import annotations

from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.core.cache import cache
from django.utils import timezone
from rest_framework.test import APIClient

from chats.consumers import CLOSE_NOT_FOUND
from chats.models import Chat, ChatConnection
from neptun.models import Erasure, User
from tests.chats.test_consumers import TIMEOUT, closed_with, open_socket, socket
from tests.factories import ChatFactory, UserFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


@pytest.fixture(autouse=True)
def _fresh_failure_counts():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def secret(api_key) -> str:
    return api_key[1]


async def test_a_temporary_chat_expiring_under_an_open_socket_closes_it(
    tenant, secret, monkeypatch
):
    start = timezone.now()
    chat = await database_sync_to_async(ChatFactory)(
        owner=await database_sync_to_async(UserFactory)(tenant=tenant),
        temporary=True,
        expires_at=start + timedelta(hours=1),
    )
    communicator = await open_socket(chat, secret)
    await communicator.send_json_to({"type": "ping"})
    assert await communicator.receive_json_from(TIMEOUT) == {"type": "pong"}

    monkeypatch.setattr(timezone, "now", lambda: start + timedelta(hours=1))
    await communicator.send_json_to({"type": "message", "content": "still there?"})

    assert await communicator.receive_json_from(TIMEOUT) == {
        "type": "chat.deleted",
        "chat": str(chat.uuid),
    }
    assert await closed_with(communicator) == CLOSE_NOT_FOUND
    await communicator.disconnect(code=CLOSE_NOT_FOUND)
    assert not await database_sync_to_async(chat.messages.exists)()

    # A new socket finds no chat at all.
    late = socket(chat.uuid, secret)
    connected, code = await late.connect(timeout=TIMEOUT)
    assert not connected and code == CLOSE_NOT_FOUND


async def test_erasing_a_user_closes_the_sockets_on_their_chats(tenant, secret):
    person = await database_sync_to_async(UserFactory)(tenant=tenant)
    chats = [await database_sync_to_async(ChatFactory)(owner=person) for _ in range(2)]
    sockets = [await open_socket(chat, secret) for chat in chats]

    def erase():
        return APIClient().delete(f"/api/v1/users/{person.pk}", HTTP_X_API_KEY=secret)

    response = await database_sync_to_async(erase)()

    assert response.status_code == 200, response.content  # not refused: no 409
    assert response.json()["status"] == "complete"
    for chat, communicator in zip(chats, sockets, strict=True):
        assert await communicator.receive_json_from(TIMEOUT) == {
            "type": "chat.deleted",
            "chat": str(chat.uuid),
        }
        assert await closed_with(communicator) == CLOSE_NOT_FOUND
        await communicator.disconnect(code=CLOSE_NOT_FOUND)
    assert not await database_sync_to_async(User.objects.filter(pk=person.pk).exists)()
    assert not await database_sync_to_async(Chat.objects.exists)()
    assert not await database_sync_to_async(ChatConnection.objects.exists)()
    assert await database_sync_to_async(Erasure.objects.count)() == 1
