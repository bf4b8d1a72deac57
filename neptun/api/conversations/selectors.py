"""Reads of the conversations dialect. Every query is scoped to the caller here, so a
view cannot forget the ownership check."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from chats.models import Chat
from collections_app.models import Collection, File
from neptun.models import User


def chats_of(user: User) -> QuerySet[Chat]:
    return Chat.objects.filter(owner=user).order_by("-created_at", "-id")


def files_of(user: User) -> QuerySet[File]:
    return File.objects.filter(owner=user).order_by("-created_at", "-id")


def collections_visible_to(user: User) -> QuerySet[Collection]:
    """The user's own collections and the global (admin-managed) ones."""
    return Collection.objects.filter(Q(owner=user) | Q(is_global=True)).order_by(
        "-created_at", "-id"
    )


def own_chat(user: User, chat_id: int) -> Chat | None:
    return Chat.objects.filter(pk=chat_id, owner=user).first()


def own_collection(user: User, collection_id: int) -> Collection | None:
    return Collection.objects.filter(pk=collection_id, owner=user, is_global=False).first()


def visible_collection(user: User, collection_id: int) -> Collection | None:
    return collections_visible_to(user).filter(pk=collection_id).first()
