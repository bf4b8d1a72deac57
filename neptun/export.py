"""Everything a user owns, as NDJSON: one JSON object a line, in flat memory.

``GET /api/v1/users/{id}/export`` streams :func:`user_export_lines` so that a tenant
can hand a person their data before erasing them. Lines, each with a ``type``:
``user`` first, then ``project`` (with the uuids of its chats), ``collection``,
``chat`` followed by that chat's ``message`` lines, ``file`` (metadata, not the
blob), and ``end`` with the counts — a reader can tell a complete export from a cut
one.

Rows are read in keyset batches (``id > last``, ``EXPORT_BATCH`` at a time), never a
whole table, so memory stays flat whatever the user owns. Only what exists for
readers is exported: an expired temporary chat, its messages and its own files are
not (:meth:`chats.models.ChatQuerySet.visible`).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from django.db.models import Model, QuerySet

from chats.models import Chat, Message
from collections_app.models import Collection, File
from neptun.models import User
from projects.models import Project, ProjectChat

EXPORT_BATCH = 1000


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment is not None else None


def _line(kind: str, **data: Any) -> bytes:
    return (json.dumps({"type": kind, **data}, ensure_ascii=False) + "\n").encode()


def _batches[M: Model](queryset: QuerySet[M]) -> Iterator[M]:
    """The rows of ``queryset`` in id order, ``EXPORT_BATCH`` a query."""
    last = 0
    while True:
        batch = list(queryset.filter(pk__gt=last).order_by("pk")[:EXPORT_BATCH])
        if not batch:
            return
        yield from batch
        last = batch[-1].pk


def user_export_lines(*, user: User) -> Iterator[bytes]:
    """The NDJSON lines of everything ``user`` owns (see the module docstring)."""
    counts: Counter[str] = Counter()
    yield _line("user", id=user.pk, email=user.email, date_joined=_iso(user.date_joined))
    chats = Chat.objects.visible().filter(owner=user)
    for project in _batches(Project.objects.filter(owner=user)):
        linked = (
            ProjectChat.objects.filter(project=project, chat__in=chats)
            .order_by("chat_id")
            .values_list("chat__uuid", flat=True)
        )
        counts["projects"] += 1
        yield _line(
            "project",
            id=project.pk,
            name=project.name,
            created_at=_iso(project.created_at),
            chats=[str(u) for u in linked],
        )
    for collection in _batches(Collection.objects.filter(owner=user)):
        counts["collections"] += 1
        yield _line(
            "collection",
            id=collection.pk,
            name=collection.name,
            created_at=_iso(collection.created_at),
        )
    for chat in _batches(chats):
        counts["chats"] += 1
        yield _line(
            "chat",
            id=str(chat.uuid),
            title=chat.title,
            conversation_type=chat.conversation_type,
            collection=chat.collection_id,
            created_at=_iso(chat.created_at),
            temporary=chat.temporary,
            expires_at=_iso(chat.expires_at),
        )
        for message in _batches(Message.objects.filter(chat=chat)):
            counts["messages"] += 1
            yield _line(
                "message",
                chat=str(chat.uuid),
                id=message.pk,
                role=message.role,
                content=message.content,
                created_at=_iso(message.created_at),
            )
    files = (
        File.objects.filter(owner=user)
        .exclude(chat__in=Chat.objects.expired(), collection__isnull=True)
        .select_related("chat")
    )
    for file in _batches(files):
        counts["files"] += 1
        yield _line(
            "file",
            id=file.pk,
            name=file.name,
            size=file.size,
            content_type=file.content_type,
            chat=str(file.chat.uuid) if file.chat is not None else None,
            collection=file.collection_id,
            created_at=_iso(file.created_at),
        )
    yield _line("end", counts=dict(counts))
