"""Writes of the conversations dialect that are not deletions (those are all in
:mod:`chats.services`): creating chats, collections and files so the deletion
endpoints can be exercised end to end. Callers have checked ownership (selectors).
Chats are created by :func:`chats.creation.chat_create`, as in every dialect."""

from __future__ import annotations

from django.core.files.uploadedfile import UploadedFile

from chats.models import Chat
from collections_app.models import Collection, File
from neptun.models import User


def collection_create(*, owner: User, name: str) -> Collection:
    return Collection.objects.create(owner=owner, is_global=False, name=name)


def file_create(
    *,
    owner: User,
    upload: UploadedFile,
    name: str = "",
    chat: Chat | None = None,
    collection: Collection | None = None,
) -> File:
    """Store the upload as a blob and a ``File`` row (the blob is written first)."""
    return File.objects.create(
        owner=owner,
        chat=chat,
        collection=collection,
        name=name or upload.name or "upload",
        blob=upload,
        size=upload.size or 0,
        content_type=upload.content_type or "application/octet-stream",
    )
