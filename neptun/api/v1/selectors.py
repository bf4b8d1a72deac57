"""Reads of the v1 dialect. Every object a tenant's key reaches is found here.

A tenant's key reaches the chats whose owner belongs to the tenant; anything else —
an unknown id, a malformed id, another tenant's chat — is the same
:class:`~neptun.exceptions.NotFound`, so a caller cannot probe for other tenants'
chats.
"""

from __future__ import annotations

import uuid

from django.db.models import QuerySet

from chats.models import Chat, Message
from neptun.exceptions import NotFound
from neptun.models import Tenant, User

CHAT_NOT_FOUND = "Chat not found"


def parse_chat_uuid(value: object) -> uuid.UUID | None:
    """The UUID in ``value``, or ``None`` when it is not one."""
    if isinstance(value, uuid.UUID):
        return value
    if not isinstance(value, str) or len(value) > 64:
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


def tenant_users(*, tenant: Tenant) -> QuerySet[User]:
    return User.objects.filter(tenant=tenant)


def tenant_chats(*, tenant: Tenant) -> QuerySet[Chat]:
    """Chats a tenant's key reaches: those of the tenant's users (an expired
    temporary chat is none of them)."""
    return Chat.objects.visible().filter(owner__tenant=tenant)


def chat_get(*, tenant: Tenant, chat_uuid: object) -> Chat:
    """The tenant's chat ``chat_uuid``; :class:`NotFound` otherwise, whatever the reason."""
    parsed = parse_chat_uuid(chat_uuid)
    chat = (
        tenant_chats(tenant=tenant).select_related("owner").filter(uuid=parsed).first()
        if parsed is not None
        else None
    )
    if chat is None:
        raise NotFound(CHAT_NOT_FOUND)
    return chat


def chat_selection(*, tenant: Tenant, chat_uuid: object) -> QuerySet[Chat]:
    """The tenant's chat ``chat_uuid`` as a queryset (empty for a malformed uuid).

    For :func:`chats.services.chat_delete`, which finds and locks it in one statement.
    """
    parsed = parse_chat_uuid(chat_uuid)
    if parsed is None:
        return Chat.objects.none()
    return tenant_chats(tenant=tenant).filter(uuid=parsed)


def chat_messages(*, chat: Chat) -> QuerySet[Message]:
    return Message.objects.filter(chat=chat).order_by("created_at", "id")
