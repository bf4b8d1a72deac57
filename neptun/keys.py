"""Revoking tenant API keys, and telling the sockets that use them.

A key is revoked, never deleted (it keeps its audit value): :func:`api_keys_revoke`
sets ``revoked_at`` and, once that commits, sends ``key.revoked`` to each key's
channel-layer group (:func:`key_group`). Every v1 socket joins the group of the key
it authenticated with, so an open socket of a revoked key is closed (code 4401) at
once, before anything else reaches it. The event is a fast path: each delivery to a
socket also checks that its key is still valid (see ``chats.consumers``), so a
revocation the event cannot carry (another process without ``REDIS_URL``, an update
made directly in the database) still lets no message through.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from neptun.channel_events import send_to_groups
from neptun.models import ApiKey


def key_group(key_id: int) -> str:
    """Channel-layer group of the sockets authenticated with one key."""
    return f"api-key-{key_id}"


def api_keys_revoke(*, keys: QuerySet[ApiKey]) -> int:
    """Revoke the keys of ``keys`` not yet revoked; the number revoked."""
    # Ids first and a plain UPDATE by id: the admin's queryset may carry joins or
    # DISTINCT (a search across the tenant), which an UPDATE … FROM does not need.
    ids = list(keys.filter(revoked_at__isnull=True).values_list("pk", flat=True))
    with transaction.atomic():
        revoked = ApiKey.objects.filter(pk__in=ids, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
        transaction.on_commit(lambda: _notify_revoked(ids))
    return revoked


def _notify_revoked(key_ids: Sequence[int]) -> None:
    """Tell the keys' open sockets to close (best effort, after commit)."""
    send_to_groups((key_group(key_id) for key_id in key_ids), {"type": "key.revoked"})
