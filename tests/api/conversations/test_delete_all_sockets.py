"""Live WebSockets of deleted conversations are closed once the deletion commits."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from chats.consumers import CLOSE_NOT_FOUND
from chats.models import ChatConnection, ConversationType
from neptun.asgi import application
from neptun.models import ApiKey
from tests.api.conversations.conftest import DELETE_ALL, send
from tests.factories import ChatFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

TIMEOUT = 5


async def open_socket(chat, secret: str) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(
        application, f"/ws/v1/chats/{chat.uuid}/", headers=[(b"x-api-key", secret.encode())]
    )
    connected, _ = await communicator.connect(timeout=TIMEOUT)
    assert connected
    assert (await communicator.receive_json_from(TIMEOUT))["type"] == "connected"
    return communicator


async def test_sockets_of_deleted_conversations_close_and_others_stay(user, bearer_client):
    going = await database_sync_to_async(ChatFactory)(
        owner=user, conversation_type=ConversationType.REGULAR
    )
    staying = await database_sync_to_async(ChatFactory)(owner=user, conversation_type=None)
    _, secret = await database_sync_to_async(ApiKey.generate)(tenant=user.tenant)
    doomed = await open_socket(going, secret)
    survivor = await open_socket(staying, secret)

    response = await database_sync_to_async(send)(
        bearer_client, "DELETE", DELETE_ALL, {"delete_null_conversations": False}
    )
    assert response.status_code == 200
    assert response.json()["deleted_stats"]["conversations_deleted"] == 1

    assert await doomed.receive_json_from(TIMEOUT) == {
        "type": "chat.deleted",
        "chat": str(going.uuid),
    }
    output = await doomed.receive_output(TIMEOUT)
    assert output == {"type": "websocket.close", "code": CLOSE_NOT_FOUND}
    await doomed.disconnect(code=CLOSE_NOT_FOUND)

    await survivor.send_json_to({"type": "ping"})
    assert await survivor.receive_json_from(TIMEOUT) == {"type": "pong"}
    await survivor.disconnect()
    assert await database_sync_to_async(ChatConnection.objects.count)() == 0
