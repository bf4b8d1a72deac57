"""Writes of the v1 dialect that are not deletions (those live in ``chats.services``).

Messages are stored by :func:`chats.writes.message_create`, shared with the other
dialects and the WebSocket.
"""

from __future__ import annotations

from django.db import transaction

from chats.models import Chat
from collections_app.models import Collection
from neptun.models import User


@transaction.atomic
def chat_create(
    *,
    owner: User,
    title: str = "",
    conversation_type: str | None = None,
    collection: Collection | None = None,
) -> Chat:
    return Chat.objects.create(
        owner=owner, title=title, conversation_type=conversation_type, collection=collection
    )
