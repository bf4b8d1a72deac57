"""Writes on chats that are not deletions (those are :mod:`chats.services`).

:func:`message_create` is the one way a message is stored: the v1 REST endpoint,
the cookie dialect's endpoint and the v1 WebSocket all call it, so a message is
validated the same whatever door it comes through. It checks what the database
and the limits require — a non-empty string without NUL characters (PostgreSQL
cannot store NUL in text), at most ``settings.MAX_MESSAGE_LENGTH`` characters, a
known role — and raises :class:`~neptun.exceptions.InvalidInput` with ``field``
naming the field otherwise. Each caller renders that in its own shape: a 400 in
each REST dialect, an ``error`` frame on the socket (which stays open). Nothing is
stored then.

The REST dialects parse their bodies first with their serializers (types, missing
fields), so some of these errors reach them already worded by DRF; the rules here
are the ones that hold for every door.
"""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from chats import presence
from chats.models import Chat, Message
from neptun.exceptions import InvalidInput, NotFound

CHAT_NOT_FOUND = "Chat not found"


def max_message_length() -> int:
    """The longest message content, in characters (``MAX_MESSAGE_LENGTH``)."""
    return settings.MAX_MESSAGE_LENGTH


def message_validate(*, role: object, content: object) -> None:
    """:class:`InvalidInput` (with ``field``) unless ``role`` and ``content`` can be stored."""
    if not isinstance(content, str) or not content.strip():
        raise InvalidInput('"content" must be a non-empty string.', field="content")
    if "\x00" in content:
        raise InvalidInput('"content" must not contain NUL (\\u0000) characters.', field="content")
    limit = max_message_length()
    if len(content) > limit:
        raise InvalidInput(
            f'"content" is longer than {limit} characters.', field="content", max_length=limit
        )
    if role not in Message.Role.values:
        raise InvalidInput(f'"role" must be one of {", ".join(Message.Role.values)}.', field="role")


def message_create(
    *,
    chat: Chat,
    role: str = Message.Role.USER,
    content: str,
    announce: bool = True,
) -> Message:
    """Validate and store a message in ``chat``; the caller has checked access to it.

    The chat's ``updated_at`` becomes the message's time (the chat's last activity).
    That update locks the chat row (``FOR NO KEY UPDATE``), so a concurrent deletion
    (which locks ``FOR UPDATE``) either runs first — then this raises
    :class:`NotFound` "Chat not found" — or after, and deletes the new message too;
    the insert can never fail on the foreign key.

    With ``announce`` the chat's sockets hear of the message after commit. A socket
    that posts a message announces it itself (``announce=False``) so it can mark the
    sender.
    """
    message_validate(role=role, content=content)
    with transaction.atomic():
        now = timezone.now()
        if not Chat.objects.filter(pk=chat.pk).update(updated_at=now):
            raise NotFound(CHAT_NOT_FOUND)
        message = Message.objects.create(chat=chat, role=role, content=content, created_at=now)
        if announce:
            chat_uuid = chat.uuid
            transaction.on_commit(
                lambda: presence.broadcast_message_sync(message, chat_uuid=chat_uuid)
            )
    return message
