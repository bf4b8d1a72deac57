"""Chats (conversations), their messages and their live WebSocket connections."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone


class ConversationType(models.TextChoices):
    REGULAR = "regular", "Regular chat"
    USER_FILES = "user_files", "Chat with user files"
    GLOBAL_COLLECTION = "global_collection", "Chat with a global collection"


class Chat(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.DB_CASCADE, related_name="chats"
    )
    title = models.CharField(max_length=300, blank=True, default="")
    # NULL is a distinct conversation type of the spec ("null conversations").
    conversation_type = models.CharField(  # noqa: DJ001
        max_length=32,
        choices=ConversationType.choices,
        null=True,
        blank=True,
    )
    collection = models.ForeignKey(
        "collections_app.Collection",
        null=True,
        blank=True,
        on_delete=models.DB_SET_NULL,
        related_name="chats",
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["owner", "conversation_type"])]

    def __str__(self) -> str:
        return self.title or str(self.uuid)


class Message(models.Model):
    class Role(models.TextChoices):
        USER = "user", "User"
        ASSISTANT = "assistant", "Assistant"
        SYSTEM = "system", "System"

    chat = models.ForeignKey(Chat, on_delete=models.DB_CASCADE, related_name="messages")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.USER)
    content = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["chat", "created_at"])]

    def __str__(self) -> str:
        return f"{self.role}: {self.content[:40]}"


class ChatConnection(models.Model):
    """One open WebSocket on a chat, kept alive by heartbeats.

    Stored in the database so that every server process sees every other
    process's sockets. A record whose heartbeat is older than
    ``settings.CHAT_CONNECTION_TTL`` does not count as live.
    """

    chat = models.ForeignKey(Chat, on_delete=models.DB_CASCADE, related_name="connections")
    connection_id = models.CharField(max_length=200, unique=True)
    opened_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now, db_index=True)

    def __str__(self) -> str:
        return self.connection_id
