"""Creating a chat: one service for every door (the three API dialects).

:func:`chat_create` checks the collection a new chat is to link against its owner,
whatever the caller found before: one of the owner's collections or a global
collection of the owner's tenant (:func:`collections_app.selectors.collections_usable_by`).
Anything else is :class:`~neptun.exceptions.CollectionNotFound`, which each dialect
answers exactly as it answers an unknown collection id in the body. It raises domain
exceptions only; the dialects map them to their shape.

A chat created with ``temporary`` gets its expiry from the owner's tenant's retention
policy (:func:`chats.retention.temporary_expiry`); from then on it is gone for every
reader, and the next retention run removes it with its files.

(The WebSocket consumer creates no chat: it connects to an existing one.)
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from chats.models import Chat, ConversationType
from chats.retention import temporary_expiry
from collections_app.models import Collection
from collections_app.selectors import collection_usable_by
from neptun.exceptions import CollectionNotFound, GlobalCollectionRequired
from neptun.models import User


def usable_collection(*, owner: User, collection: Collection | int | None) -> Collection | None:
    """``collection`` (a row or an id) looked up for ``owner``; ``None`` stays ``None``.

    :class:`CollectionNotFound` when ``owner`` may not use it.
    """
    if collection is None:
        return None
    collection_id = collection.pk if isinstance(collection, Collection) else collection
    found = collection_usable_by(user=owner, collection_id=collection_id)
    if found is None:
        raise CollectionNotFound("Collection not found", collection=collection_id)
    return found


@transaction.atomic
def chat_create(
    *,
    owner: User,
    title: str,
    conversation_type: str | None,
    collection: Collection | int | None = None,
    require_global_collection: bool = False,
    temporary: bool = False,
) -> Chat:
    """Create a chat of ``owner``, linked to ``collection`` when one is given.

    ``collection`` is checked by :func:`usable_collection` (:class:`CollectionNotFound`).
    With ``require_global_collection`` a ``global_collection`` conversation must link
    a global collection (:class:`GlobalCollectionRequired` otherwise): the
    conversations dialect's contract; the other dialects never required it.
    Nothing is written when either is raised. ``temporary``: the chat expires as the
    owner's retention policy says (see the module docstring).
    """
    linked = usable_collection(owner=owner, collection=collection)
    if (
        require_global_collection
        and conversation_type == ConversationType.GLOBAL_COLLECTION
        and (linked is None or not linked.is_global)
    ):
        raise GlobalCollectionRequired(
            "A global_collection conversation needs a global collection", field="collection"
        )
    now = timezone.now()
    return Chat.objects.create(
        owner=owner,
        title=title,
        conversation_type=conversation_type,
        collection=linked,
        created_at=now,
        temporary=temporary,
        expires_at=temporary_expiry(owner=owner, now=now) if temporary else None,
    )
