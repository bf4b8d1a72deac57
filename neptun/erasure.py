"""Erasing a person, provably: the user and everything the user owns, and a receipt.

:func:`user_erase` is the one erasure every door calls (``DELETE /api/v1/users/{id}``,
the admin's "Erase user…" action, ``manage.py erase_user``). In one transaction it

1. deletes the user through the deletion engine (:func:`chats.services.users_delete`):
   chats with their messages, projects, collections, files, tokens — blobs through
   the outbox, after commit. Live sockets on the user's chats are told ``chat.deleted``
   and closed (4404): an erasure is not refused because a tab is open;
2. replaces the person's email on every deletion record where they were the actor
   by its keyed hash (:func:`email_hash`), removes the admin's log entries about the
   user (their ``object_repr`` is the email) and the user's stored sessions (their
   data holds the user's id; with database sessions, the unexpired ones are read
   once each — an erasure is rare, a session table small beside the chat data);
3. writes the receipt (:class:`~neptun.models.Erasure`): counts by kind and, once
   committed, a verification — no row of any table still references the user, no
   record still names the email — and how many of the user's blobs the outbox still
   has to remove.

The blob count is checked against the storage itself, not only the outbox: the
names of the user's blobs are read before the deletion, and once the outbox has
had its go after commit, storage is asked for each (:func:`_blobs_left`). A blob it
still has that no outbox row covers (a removal that reported success and left the
blob) is queued again, so the worker removes it; a blob another file still uses is
not the user's any more and stays. From then on the outbox holds every name still to
go — the receipt keeps none, they hold the user's id.

The receipt is ``pending`` while blobs remain and ``complete`` after:
:func:`erasure_refresh` (every read of a receipt) and the worker's outbox sweep
(:func:`erasures_refresh_pending`, after each pass) move it on, so a receipt whose
first removal failed completes when the worker's retry succeeds, whether anyone
reads it or not. Neither the receipt nor any record keeps the person's id or email:
the email survives only as its keyed hash, so :func:`was_erased` can answer "was
this address erased?". The record's endpoint names the route, not the erased id.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from typing import Any

from django.apps import apps
from django.conf import settings
from django.contrib.admin.models import LogEntry
from django.contrib.auth import SESSION_KEY
from django.contrib.contenttypes.models import ContentType
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.core.files.storage import default_storage
from django.db import models, transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac

from chats.deletion import audit, effects
from chats.models import BlobRemoval
from chats.services import DeletionContext, users_delete, users_delete_preview
from collections_app.models import File
from neptun.exceptions import NotFound
from neptun.models import DeletionRecord, Erasure, User

logger = logging.getLogger("neptun.erasure")

#: Blob names looked up in one query when the receipt checks storage.
CHECK_CHUNK = 500

#: Session engines that keep sessions in the ``django_session`` table.
DB_SESSION_ENGINES = (
    "django.contrib.sessions.backends.db",
    "django.contrib.sessions.backends.cached_db",
)

#: The salt of the key the email hash is made with (derived from ``SECRET_KEY``).
EMAIL_HASH_SALT = "neptun.erasure.email"


def email_hash(email: str) -> str:
    """HMAC-SHA256 of the normalized email with a key derived from ``SECRET_KEY``:
    the same address gives the same hash, and without the key nobody can test
    addresses against it."""
    return salted_hmac(EMAIL_HASH_SALT, email.strip().lower(), algorithm="sha256").hexdigest()


def was_erased(*, email: str) -> bool:
    """Whether a user with this email was erased here."""
    return Erasure.objects.filter(email_hash=email_hash(email)).exists()


def _user_references(user_id: int) -> dict[str, int]:
    """Rows of every table that still point at the user, by ``app.Model.field``."""
    found: dict[str, int] = {}
    for model in apps.get_models(include_auto_created=True):
        for field in model._meta.get_fields():
            if (
                isinstance(field, models.ForeignKey)
                and field.concrete
                and field.related_model is User
            ):
                count = model._default_manager.filter(**{field.attname: user_id}).count()
                if count:
                    found[f"{model._meta.label}.{field.name}"] = count
    if User.objects.filter(pk=user_id).exists():
        found["neptun.User"] = 1
    return found


def _sessions_delete(user_id: int) -> None:
    """Delete the stored sessions of the user (database-backed sessions only)."""
    if settings.SESSION_ENGINE not in DB_SESSION_ENGINES:
        return
    store = SessionStore()
    theirs = []
    for key, data in (
        Session.objects.filter(expire_date__gt=timezone.now())
        .values_list("session_key", "session_data")
        .iterator(chunk_size=1000)
    ):
        if str(store.decode(data).get(SESSION_KEY)) == str(user_id):
            theirs.append(key)
    Session.objects.filter(session_key__in=theirs).delete()


def _blobs_left(*, record_id: int, names: Collection[str]) -> int:
    """Ask storage for each of the user's blobs ``names`` (read before the deletion)
    that no outbox row covers; queue again, for the worker, those it still has — and
    those it cannot tell about (removing a blob that is gone is success, so the
    receipt never claims what nobody saw). How many blobs are left to remove."""
    queued = set(BlobRemoval.objects.filter(record_id=record_id).values_list("name", flat=True))
    unseen = sorted(set(names) - queued)
    again = []
    for start in range(0, len(unseen), CHECK_CHUNK):
        chunk = unseen[start : start + CHECK_CHUNK]
        in_use = set(File.objects.filter(blob__in=chunk).values_list("blob", flat=True))
        for name in chunk:
            if name in in_use:
                continue
            try:
                present = default_storage.exists(name)
            except Exception as exc:
                logger.warning("erasure of record %s: storage did not answer: %s", record_id, exc)
                present = True
            if present:
                again.append(name)
    if again:
        logger.warning(
            "erasure of record %s: %d blob(s) still in storage; queued again", record_id, len(again)
        )
        # No lease: the worker's next sweep takes them. The record counts them removed
        # already (``counted``): the sweep's success leaves its count as it is.
        BlobRemoval.objects.bulk_create(
            (BlobRemoval(name=name, record_id=record_id) for name in again), batch_size=CHECK_CHUNK
        )
    return effects.pending(record_id=record_id)


def _verify(
    *, user_id: int, email: str, record_id: int | None, blobs: Collection[str]
) -> dict[str, Any]:
    references = _user_references(user_id)
    named = DeletionRecord.objects.filter(actor_email__iexact=email).count()
    return {
        "rows_referencing_user": sum(references.values()),
        "references": references,
        "records_naming_email": named,
        "blobs_remaining": _blobs_left(record_id=record_id, names=blobs) if record_id else 0,
    }


def erasure_preview(*, user: User) -> dict[str, int]:
    """Counts by kind of what erasing ``user`` would delete (the engine's dry run)."""
    counts = users_delete_preview(users=User.objects.filter(pk=user.pk)).as_dict()["counts"]
    return {kind: n for kind, n in counts.items() if n}


def user_erase(*, user: User, ctx: DeletionContext) -> Erasure:
    """Erase ``user`` (see the module docstring) and return the receipt.

    :class:`NotFound` when the user is gone already. ``ctx.endpoint`` must not name
    the user: the doors pass their route.
    """
    email, tenant, user_id = user.email, user.tenant, int(user.pk)
    hashed = email_hash(email)
    with transaction.atomic():
        if not User.objects.select_for_update().filter(pk=user_id).exists():
            raise NotFound("User not found")
        blobs = list(
            File.objects.filter(owner_id=user_id).exclude(blob="").values_list("blob", flat=True)
        )
        result = users_delete(users=User.objects.filter(pk=user_id), ctx=ctx)
        audit.forget_actor(email=email, email_hash=hashed)
        if result.record_id is not None:
            audit.set_tenant(record_id=result.record_id, tenant=tenant)
        LogEntry.objects.filter(
            content_type=ContentType.objects.get_for_model(User), object_id=str(user_id)
        ).delete()
        _sessions_delete(user_id)
        counts = {kind: n for kind, n in result.as_dict()["counts"].items() if n}
        erasure = Erasure.objects.create(
            tenant=tenant,
            email_hash=hashed,
            record_id=result.record_id,
            interface=ctx.interface,
            counts=counts,
        )
    # After commit: the engine has carried out the outbox rows it could.
    erasure.verification = _verify(
        user_id=user_id, email=email, record_id=result.record_id, blobs=blobs
    )
    erasure.save(update_fields=["verification"])
    return erasure_refresh(erasure=erasure)


def erasure_refresh(*, erasure: Erasure) -> Erasure:
    """Bring the receipt's blob count and status up to date (``complete`` once the
    outbox has no blob of the user's left)."""
    if erasure.status == Erasure.Status.COMPLETE:
        return erasure
    remaining = effects.pending(record_id=erasure.record_id) if erasure.record_id else 0
    verification = {**erasure.verification, "blobs_remaining": remaining}
    fields = ["verification"]
    if remaining == 0 and verification.get("rows_referencing_user") == 0:
        erasure.status = Erasure.Status.COMPLETE
        erasure.completed_at = timezone.now()
        fields += ["status", "completed_at"]
    erasure.verification = verification
    erasure.save(update_fields=fields)
    return erasure


def erasures_refresh_pending() -> int:
    """Refresh every ``pending`` receipt (:func:`erasure_refresh`); how many are
    ``complete`` now. The worker calls it after each outbox sweep: pending receipts
    are few (storage refused a removal), so each pass looks at all of them."""
    completed = 0
    for erasure in Erasure.objects.filter(status=Erasure.Status.PENDING).iterator():
        if erasure_refresh(erasure=erasure).status == Erasure.Status.COMPLETE:
            completed += 1
    return completed


def receipt(erasure: Erasure) -> dict[str, Any]:
    """The receipt as every door shows it."""
    return {
        "id": str(erasure.id),
        "status": erasure.status,
        "counts": erasure.counts,
        "verification": {
            "rows_referencing_user": erasure.verification.get("rows_referencing_user"),
            "records_naming_email": erasure.verification.get("records_naming_email"),
            "blobs_remaining": erasure.verification.get("blobs_remaining"),
            "verified": erasure.status == Erasure.Status.COMPLETE,
        },
        "email_hash": erasure.email_hash,
        "created_at": erasure.created_at.isoformat().replace("+00:00", "Z"),
        "completed_at": (
            erasure.completed_at.isoformat().replace("+00:00", "Z")
            if erasure.completed_at
            else None
        ),
    }
