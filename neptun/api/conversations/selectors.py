"""Reads of the conversations dialect. Every query is scoped to the caller here, so a
view cannot forget the ownership check."""

from __future__ import annotations

from django.db.models import QuerySet

from chats.models import Chat
from collections_app.models import Collection, File
from collections_app.selectors import collections_usable_by
from neptun.models import User


def chats_of(user: User) -> QuerySet[Chat]:
    """The user's chats; an expired temporary chat is none of them."""
    return Chat.objects.visible().filter(owner=user).order_by("-created_at", "-id")


def files_of(user: User) -> QuerySet[File]:
    """The user's files, but not those uploaded in an expired temporary chat that
    belong to no collection: they go with the chat, and are gone with it for readers
    before the retention run removes them."""
    expired = Chat.objects.expired().values("pk")
    return (
        File.objects.filter(owner=user)
        .exclude(chat_id__in=expired, collection__isnull=True)
        .order_by("-created_at", "-id")
    )


def collections_visible_to(user: User) -> QuerySet[Collection]:
    """The user's own collections and the global (admin-managed) ones of their tenant."""
    return collections_usable_by(user=user).order_by("-created_at", "-id")


def own_chat(user: User, chat_id: int) -> Chat | None:
    return chats_of(user).filter(pk=chat_id).first()


def own_collection(user: User, collection_id: int) -> Collection | None:
    return Collection.objects.filter(pk=collection_id, owner=user, is_global=False).first()
