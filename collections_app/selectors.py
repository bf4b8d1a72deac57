"""Which collections a user may use: the one rule every door shares.

A user may use their own collections and the global collections of their tenant;
a user without a tenant has no global collection. A tenant's API key reaches what
its users may use. Lists, chat creation (:mod:`chats.creation`) and counts all ask
here, so a global collection of one tenant is never listed, linked or counted for
another.
"""

from __future__ import annotations

from django.db.models import Q, QuerySet

from collections_app.models import Collection
from neptun.models import User


def collections_usable_by(*, user: User) -> QuerySet[Collection]:
    """``user``'s own collections and their tenant's global ones."""
    condition = Q(owner=user, is_global=False)
    if user.tenant_id is not None:
        condition |= Q(is_global=True, owner__isnull=True, tenant_id=user.tenant_id)
    return Collection.objects.filter(condition)


def collection_usable_by(*, user: User, collection_id: int) -> Collection | None:
    """The collection ``collection_id`` if ``user`` may use it, else ``None`` (unknown,
    another user's, another tenant's global one: indistinguishable)."""
    return collections_usable_by(user=user).filter(pk=collection_id).first()
