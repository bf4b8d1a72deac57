"""Reads of the Neptun dialect, each one scoped to its owner.

Object access is checked here, not in views: every getter takes the owner and
raises :class:`~neptun.exceptions.NotFound` for an object that does not exist,
is not the owner's, or whose id is not a database id at all (a non-integer or
out-of-range path segment). The three cases are indistinguishable on purpose.
"""

from __future__ import annotations

from django.db.models import QuerySet

from chats.models import Chat, Message
from neptun.exceptions import NotFound
from neptun.models import User
from projects.models import Project

#: Largest value of a 64-bit signed primary key; anything above cannot exist.
MAX_DB_ID = 2**63 - 1


def parse_id(value: object) -> int | None:
    """A database id from a path segment or JSON value, or ``None``.

    Accepts an ``int`` (not a ``bool``) or a string of ASCII digits, in
    ``1 … 2**63-1``. Anything else — signs, spaces, decimals, other scripts'
    digits, values no primary key can hold — is ``None``.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and value.isascii() and value.isdigit():
        if len(value.lstrip("0")) > len(str(MAX_DB_ID)):
            return None  # also keeps int() away from its digit-count limit
        number = int(value)
    else:
        return None
    return number if 0 < number <= MAX_DB_ID else None


def path_user(*, actor: User, user_id: str) -> User:
    """The user named by the path, which must be the session's user."""
    if parse_id(user_id) != actor.pk:
        raise NotFound("User not found")
    return actor


def chat_list(*, owner: User) -> QuerySet[Chat]:
    return Chat.objects.visible().filter(owner=owner).order_by("-created_at", "-id")


def chat_get(*, owner: User, chat_id: object) -> Chat:
    pk = parse_id(chat_id)
    chat = chat_list(owner=owner).filter(pk=pk).first() if pk is not None else None
    if chat is None:
        raise NotFound("Chat not found")
    return chat


def message_list(*, chat: Chat) -> QuerySet[Message]:
    return Message.objects.filter(chat=chat).order_by("created_at", "id")


def project_list(*, owner: User) -> QuerySet[Project]:
    return Project.objects.filter(owner=owner).order_by("-created_at", "-id")


def project_get(*, owner: User, project_id: object) -> Project:
    pk = parse_id(project_id)
    project = project_list(owner=owner).filter(pk=pk).first() if pk is not None else None
    if project is None:
        raise NotFound("Project not found")
    return project


def project_chat_list(*, project: Project) -> QuerySet[Chat]:
    """The project owner's chats linked to the project."""
    return (
        Chat.objects.visible()
        .filter(owner_id=project.owner_id, project_links__project=project)
        .order_by("-created_at", "-id")
    )
