"""Writes of the Neptun dialect other than deletions (those are ``chats.services``)
and chat creation (:func:`chats.creation.chat_create`, shared by every dialect).

Messages are stored by :func:`chats.writes.message_create`, shared with the v1
dialect and the WebSocket (which locks the chat the same way).

Each write that hangs a row off a chat first locks the chat (``FOR NO KEY UPDATE``):
a concurrent deletion (which locks ``FOR UPDATE``) then either runs first, and
the write answers "Chat not found", or runs after, and deletes the new row too.
Without the lock the write could fail on the foreign key at commit time.
"""

from __future__ import annotations

from django.db import transaction

from chats.models import Chat
from neptun.exceptions import NotFound
from neptun.models import User
from projects.models import Project, ProjectChat


def _lock_chat(chat: Chat) -> Chat:
    locked = (
        Chat.objects.select_for_update(no_key=True)
        .filter(pk=chat.pk, owner_id=chat.owner_id)
        .first()
    )
    if locked is None:
        raise NotFound("Chat not found")
    return locked


def project_create(*, owner: User, name: str) -> Project:
    return Project.objects.create(owner=owner, name=name)


@transaction.atomic
def project_chat_link(*, project: Project, chat: Chat) -> tuple[ProjectChat, bool]:
    """Link ``chat`` to ``project`` (both of one owner); idempotent.

    Returns the link and whether it was created.
    """
    if chat.owner_id != project.owner_id:
        raise NotFound("Chat not found")
    locked = Project.objects.select_for_update(no_key=True).filter(pk=project.pk).first()
    if locked is None:
        raise NotFound("Project not found")
    chat = _lock_chat(chat)
    return ProjectChat.objects.get_or_create(project=locked, chat=chat)
