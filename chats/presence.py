"""Live state of a chat: who is connected, and events for its sockets.

Presence is kept in the database (:class:`~chats.models.ChatConnection`), so every
server process sees every other process's sockets:

- :func:`connection_open` locks the chat row (``SELECT … FOR UPDATE``) while it
  inserts the record. :func:`chats.services.chat_delete` locks the same row first,
  so a connect and a delete serialize: either the delete counts the socket (409)
  or the socket finds the chat gone and is refused. On SQLite, where row locks do
  not exist, both run as ``BEGIN IMMEDIATE`` transactions and serialize on the
  database's write lock instead.
- :func:`connection_heartbeat` refreshes ``last_seen_at``. A record whose
  heartbeat is older than ``settings.CHAT_CONNECTION_TTL`` does not count as live
  (:func:`chats.services.live_connections`), so a crashed process cannot block
  a deletion for longer than the TTL.
- :func:`connection_close` removes the record; the consumer calls it in a
  ``finally``.

Events go to the chat's channel-layer group (:func:`chats.services.chat_group`):
``chat.deleted`` (sent by the deletion service after commit) and ``chat.message``
(a new message, from a socket or from the REST API).
"""

from __future__ import annotations

import enum
import logging
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from chats.models import Chat, ChatConnection, Message
from chats.services import chat_group

logger = logging.getLogger("neptun.presence")


def heartbeat_interval() -> float:
    """Seconds between two heartbeats of an open socket: a third of the TTL."""
    return max(float(settings.CHAT_CONNECTION_TTL) / 3, 0.5)


@transaction.atomic
def connection_open(*, chats: QuerySet[Chat], chat_uuid: Any, connection_id: str) -> Chat | None:
    """Record a socket on the chat ``chat_uuid`` among ``chats``; ``None`` if there is none.

    The chat row stays locked until the record is committed.
    """
    chat = chats.select_for_update(of=("self",)).filter(uuid=chat_uuid).first()
    if chat is None:
        return None
    now = timezone.now()
    ChatConnection.objects.create(
        chat=chat, connection_id=connection_id, opened_at=now, last_seen_at=now
    )
    return chat


class Heartbeat(enum.Enum):
    ALIVE = "alive"
    CHAT_GONE = "chat_gone"


@transaction.atomic
def connection_heartbeat(*, chat_id: int, connection_id: str) -> Heartbeat:
    """Refresh the socket's record.

    If the record is gone, the chat was deleted (its records go with it) — possibly
    by another process whose ``chat.deleted`` event never reaches this one (an
    in-memory channel layer) — or someone removed the record; then it is recreated
    under the chat's lock, exactly as on connect.
    """
    now = timezone.now()
    if ChatConnection.objects.filter(connection_id=connection_id).update(last_seen_at=now):
        return Heartbeat.ALIVE
    chat = Chat.objects.select_for_update(of=("self",)).filter(pk=chat_id).first()
    if chat is None:
        return Heartbeat.CHAT_GONE
    ChatConnection.objects.create(
        chat=chat, connection_id=connection_id, opened_at=now, last_seen_at=now
    )
    return Heartbeat.ALIVE


def connection_close(*, connection_id: str) -> None:
    """Remove the socket's record (no error if it is already gone)."""
    ChatConnection.objects.filter(connection_id=connection_id).delete()


def message_event(message: Message, *, chat_uuid: Any, sender: str | None = None) -> dict:
    """The ``chat.message`` channel-layer event announcing ``message``."""
    return {
        "type": "chat.message",
        "chat": str(chat_uuid),
        "message": {
            "id": message.pk,
            "role": message.role,
            "content": message.content,
            "created_at": message.created_at.isoformat().replace("+00:00", "Z"),
        },
        "sender": sender,
    }


def broadcast_message_sync(message: Message, *, chat_uuid: Any) -> None:
    """Announce a message created outside a socket (REST) to the chat's sockets.

    Best effort: the message is stored whatever happens here. Call it after commit.
    """
    try:
        from asgiref.sync import async_to_sync
        from channels.layers import get_channel_layer

        layer = get_channel_layer()
        if layer is None:
            return
        async_to_sync(layer.group_send)(
            chat_group(message.chat_id), message_event(message, chat_uuid=chat_uuid)
        )
    except Exception:
        logger.exception("could not announce message %s to the chat's sockets", message.pk)
