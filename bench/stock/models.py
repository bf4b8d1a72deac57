"""Mirror of Neptun's models with Python-level ``CASCADE`` / ``SET_NULL``.

Same columns and indexes as ``chats``, ``projects`` and ``collections_app``; the
user is a plain table (Neptun's user model already carries Django's own
Python-level relations).
"""

from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone


class StockUser(models.Model):
    email = models.EmailField(unique=True)

    class Meta:
        db_table = "stock_user"

    def __str__(self) -> str:
        return self.email


class StockCollection(models.Model):
    owner = models.ForeignKey(
        StockUser, null=True, blank=True, on_delete=models.CASCADE, related_name="collections"
    )
    is_global = models.BooleanField(default=False, db_index=True)
    name = models.CharField(max_length=200)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "stock_collection"

    def __str__(self) -> str:
        return self.name


class StockChat(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    owner = models.ForeignKey(StockUser, on_delete=models.CASCADE, related_name="chats")
    title = models.CharField(max_length=300, blank=True, default="")
    conversation_type = models.CharField(max_length=32, null=True, blank=True)  # noqa: DJ001
    collection = models.ForeignKey(
        StockCollection, null=True, blank=True, on_delete=models.SET_NULL, related_name="chats"
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "stock_chat"
        indexes = [models.Index(fields=["owner", "conversation_type"])]

    def __str__(self) -> str:
        return self.title or str(self.uuid)


class StockMessage(models.Model):
    chat = models.ForeignKey(StockChat, on_delete=models.CASCADE, related_name="messages")
    role = models.CharField(max_length=16, default="user")
    content = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "stock_message"
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["chat", "created_at"])]

    def __str__(self) -> str:
        return f"{self.role}: {self.content[:40]}"


class StockChatConnection(models.Model):
    chat = models.ForeignKey(StockChat, on_delete=models.CASCADE, related_name="connections")
    connection_id = models.CharField(max_length=200, unique=True)
    opened_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        db_table = "stock_chatconnection"

    def __str__(self) -> str:
        return self.connection_id


class StockProject(models.Model):
    owner = models.ForeignKey(StockUser, on_delete=models.CASCADE, related_name="projects")
    name = models.CharField(max_length=200)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "stock_project"

    def __str__(self) -> str:
        return self.name


class StockProjectChat(models.Model):
    project = models.ForeignKey(StockProject, on_delete=models.CASCADE, related_name="links")
    chat = models.ForeignKey(StockChat, on_delete=models.CASCADE, related_name="project_links")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "stock_projectchat"
        constraints = [
            models.UniqueConstraint(fields=["project", "chat"], name="stock_unique_project_chat")
        ]

    def __str__(self) -> str:
        return f"{self.project_id} <-> {self.chat_id}"


class StockFile(models.Model):
    owner = models.ForeignKey(StockUser, on_delete=models.CASCADE, related_name="files")
    chat = models.ForeignKey(
        StockChat, null=True, blank=True, on_delete=models.SET_NULL, related_name="files"
    )
    collection = models.ForeignKey(
        StockCollection, null=True, blank=True, on_delete=models.SET_NULL, related_name="files"
    )
    name = models.CharField(max_length=255)
    blob = models.FileField(upload_to="stock/", max_length=500, db_index=True)
    size = models.PositiveBigIntegerField(default=0)
    content_type = models.CharField(max_length=200, default="application/octet-stream")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "stock_file"

    def __str__(self) -> str:
        return self.name
