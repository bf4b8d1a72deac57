"""Projects and the chats linked to them."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class Project(models.Model):
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.DB_CASCADE, related_name="projects"
    )
    name = models.CharField(max_length=200)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.name


class ProjectChat(models.Model):
    project = models.ForeignKey(Project, on_delete=models.DB_CASCADE, related_name="links")
    chat = models.ForeignKey(
        "chats.Chat", on_delete=models.DB_CASCADE, related_name="project_links"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "chat"], name="unique_project_chat")
        ]

    def __str__(self) -> str:
        return f"{self.project_id} ↔ {self.chat_id}"
