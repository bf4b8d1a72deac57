"""Writes of the v1 dialect that are not deletions (those live in ``chats.services``)
nor chat creation (:func:`chats.creation.chat_create`, shared by every dialect)."""

from __future__ import annotations

from django.db import transaction

from chats import presence
from chats.models import Chat, Message
from neptun.api.v1.selectors import CHAT_NOT_FOUND
from neptun.exceptions import NotFound


def message_create(*, chat: Chat, role: str, content: str, announce: bool = True) -> Message:
    """Store a message; with ``announce``, tell the chat's sockets after commit.

    A socket that posts a message announces it itself (``announce=False``), so it
    can mark the sender. :class:`NotFound` if the chat is (being) deleted.
    """
    with transaction.atomic():
        # Wait for (and then see) a concurrent deletion of the chat instead of
        # failing on the foreign key.
        if not Chat.objects.filter(pk=chat.pk).select_for_update(no_key=True).exists():
            raise NotFound(CHAT_NOT_FOUND)
        message = Message.objects.create(chat=chat, role=role, content=content)
        if announce:
            chat_uuid = chat.uuid
            transaction.on_commit(
                lambda: presence.broadcast_message_sync(message, chat_uuid=chat_uuid)
            )
    return message
