"""Writes of the conversations dialect that are not deletions (those are all in
:mod:`chats.services`): creating chats, collections and files so the deletion
endpoints can be exercised end to end. Callers have checked ownership (selectors).
Chats are created by :func:`chats.creation.chat_create`, as in every dialect."""

from __future__ import annotations

from django.core.files.uploadedfile import UploadedFile
from django.db import transaction

from chats.models import Chat
from collections_app.models import Collection, File, remove_blob_quietly
from neptun import uploads
from neptun.exceptions import InvalidInput
from neptun.models import User


def _lock_still_there(
    model: type[Chat] | type[Collection], obj: Chat | Collection | None, field: str, message: str
) -> None:
    """Lock ``obj``'s row against a concurrent deletion; refuse if it is gone."""
    if obj is None:
        return
    if not model._default_manager.select_for_update(no_key=True).filter(pk=obj.pk).exists():
        raise InvalidInput(message, field=field)


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
    """Store the upload as a blob and a ``File`` row.

    The serializer has validated the content type and the names. The quota is checked
    before the blob is written (a refused upload writes nothing), and again in the
    short transaction that inserts the row, under a lock on the owner's row so that
    two concurrent uploads cannot both pass it; the blob is written before that
    transaction, so no lock is held while it is copied. If the row is not inserted
    — quota lost to a concurrent upload, a database error — the blob is removed
    before the error goes on. (A caller that wraps this in its own transaction and
    rolls it back later leaves the blob to ``cleanup_orphans``.)

    The chat and the collection are locked (``FOR NO KEY UPDATE``) in that
    transaction, as a message post locks its chat: a concurrent deletion then either
    runs first, and the upload is refused as if the chat or collection were unknown
    (:class:`InvalidInput`, nothing kept), or runs after and takes the new file with it.
    Without the lock the insert would fail on the foreign key at commit (a 500).
    """
    size = upload.size or 0
    uploads.check_quota(owner.pk, size)
    file = File(
        owner=owner,
        chat=chat,
        collection=collection,
        name=name or uploads.display_name(upload.name or "") or "upload",
        size=size,
        content_type=upload.content_type or "application/octet-stream",
    )
    file.blob.save(upload.name or "upload", upload, save=False)
    try:
        with transaction.atomic():
            if uploads.quota_enabled():
                User.objects.select_for_update(no_key=True).filter(pk=owner.pk).exists()
                uploads.check_quota(owner.pk, size)
            _lock_still_there(Chat, chat, "chat_id", "Chat not found")
            _lock_still_there(Collection, collection, "collection_id", "Collection not found")
            file.save(force_insert=True)
    except BaseException:
        remove_blob_quietly(file.blob.storage, file.blob.name)
        raise
    return file
