"""Chats (conversations), their messages and their live WebSocket connections."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone


class ConversationType(models.TextChoices):
    REGULAR = "regular", "Regular chat"
    USER_FILES = "user_files", "Chat with user files"
    GLOBAL_COLLECTION = "global_collection", "Chat with a global collection"


class ChatQuerySet(models.QuerySet["Chat"]):
    def visible(self, *, now: datetime | None = None) -> ChatQuerySet:
        """The chats that exist for readers: all but the expired temporary chats.

        An expired temporary chat is gone for every reader (lists, gets, exports,
        sockets) from its expiry on, even before the next retention run removes its
        rows; every reader selects its chats through this method. Deletions do not:
        the retention run finds the expired chats with :meth:`expired`.
        """
        moment = now or timezone.now()
        return self.filter(models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=moment))

    def expired(self, *, now: datetime | None = None) -> ChatQuerySet:
        """Temporary chats whose expiry has come (what a retention run deletes)."""
        return self.filter(expires_at__lte=now or timezone.now())


class Chat(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.DB_CASCADE, related_name="chats"
    )
    title = models.CharField(max_length=300, blank=True, default="")
    # NULL is a distinct conversation type of the spec ("null conversations").
    conversation_type = models.CharField(  # noqa: DJ001
        max_length=32,
        choices=ConversationType.choices,
        null=True,
        blank=True,
    )
    collection = models.ForeignKey(
        "collections_app.Collection",
        null=True,
        blank=True,
        on_delete=models.DB_SET_NULL,
        related_name="chats",
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    #: Created with ``"temporary": true``: it expires ``temporary_hours`` (the owner's
    #: tenant's retention policy at creation) after it was created.
    temporary = models.BooleanField(default=False)
    #: When a temporary chat stops existing for readers; NULL: never (a regular chat,
    #: or a temporary one under a policy that keeps temporary chats forever).
    expires_at = models.DateTimeField(null=True, blank=True)
    #: Messages in the chat, kept by the database itself: a trigger on the messages
    #: table adds what each ``INSERT`` (or ``COPY``) writes, in the writer's own
    #: transaction, whoever the writer is (migration ``0006``: one statement-level
    #: trigger on PostgreSQL, a row trigger on SQLite). Messages are only ever
    #: deleted with their chat, so nothing needs taking off. A deletion sums it over
    #: the chats it locks to decide whether it is a large purge
    #: (:mod:`chats.deletion.engine`) instead of counting the messages; its record's
    #: counts still come from the deletion itself.
    #: (A later migration that rebuilds ``chats_message`` on SQLite must create the
    #: trigger again; ``tests/chats/test_message_count.py`` fails if it is gone.) A
    #: bulk insert spanning many chats updates them in no set order, as its foreign
    #: key checks already lock them: against a purge running at the same moment it
    #: may wait, or rarely deadlock (PostgreSQL then aborts one of the two, which
    #: loses nothing); ``message_create`` writes one chat, locked first.
    message_count = models.PositiveBigIntegerField(
        "messages", default=0, db_default=0, editable=False
    )

    objects = ChatQuerySet.as_manager()

    class Meta:
        indexes = [
            models.Index(fields=["owner", "conversation_type"]),
            models.Index(
                fields=["expires_at"],
                name="chats_chat_expiring",
                condition=models.Q(expires_at__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return self.title or str(self.uuid)

    def save(self, **kwargs: Any) -> None:
        """Save, never writing ``message_count`` back unless asked to: an instance
        loaded before messages were added would otherwise undo the trigger's count."""
        if (
            kwargs.get("update_fields") is None
            and not kwargs.get("force_insert")
            and not self._state.adding
        ):
            kwargs["update_fields"] = [
                field.name
                for field in self._meta.concrete_fields
                if not field.primary_key and field.name != "message_count"
            ]
        super().save(**kwargs)


class Message(models.Model):
    class Role(models.TextChoices):
        USER = "user", "User"
        ASSISTANT = "assistant", "Assistant"
        SYSTEM = "system", "System"

    chat = models.ForeignKey(Chat, on_delete=models.DB_CASCADE, related_name="messages")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.USER)
    content = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["chat", "created_at"])]

    def __str__(self) -> str:
        return f"{self.role}: {self.content[:40]}"


class ChatConnection(models.Model):
    """One open WebSocket on a chat, kept alive by heartbeats.

    Stored in the database so that every server process sees every other
    process's sockets. A record whose heartbeat is older than
    ``settings.CHAT_CONNECTION_TTL`` does not count as live.
    """

    chat = models.ForeignKey(Chat, on_delete=models.DB_CASCADE, related_name="connections")
    connection_id = models.CharField(max_length=200, unique=True)
    opened_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now, db_index=True)

    def __str__(self) -> str:
        return self.connection_id


class BlobRemoval(models.Model):
    """The outbox of blob removals: one row per blob a deletion must remove from storage.

    Written in the same transaction as the deletion of the file rows, so it commits
    or rolls back with them; a process that dies after the commit loses nothing. The
    deleting process carries the rows out right after commit; the worker
    (:mod:`chats.deletion.effects`) takes whatever is left — claimed by nobody, or
    claimed by a process whose lease ran out — and retries failures with backoff
    until ``OUTBOX_MAX_ATTEMPTS``. A row is deleted once its blob is gone (or found
    in use by a live row, and so kept); one that exhausted its attempts stays with
    ``failed`` set, for an operator (and ``cleanup_orphans``) to see.
    """

    name = models.CharField(max_length=500)
    #: The deletion that queued it; its record gets the outcome. No index of its own:
    #: ``chats_blobremoval_record`` (record, attempts) serves every lookup by record,
    #: and one index fewer is less to write for each of a purge's thousand rows.
    record = models.ForeignKey(
        "neptun.DeletionRecord",
        null=True,
        blank=True,
        on_delete=models.DB_SET_NULL,
        related_name="+",
        db_index=False,
    )
    attempts = models.PositiveIntegerField(default=0)
    #: Not tried again before this moment (backoff after a failure).
    not_before = models.DateTimeField(default=timezone.now)
    #: A process working on the row holds it until then (a lease, not a lock).
    claimed_until = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    failed = models.BooleanField(default=False)
    #: Whether the record's ``counts["blobs"]`` already includes this blob (a deletion
    #: records the blobs it expects to remove; a failure takes it out again), so the
    #: worker knows whether its outcome changes the record.
    counted = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(fields=["record", "attempts"], name="chats_blobremoval_record"),
            models.Index(
                fields=["not_before"],
                name="chats_blobremoval_due",
                condition=models.Q(failed=False),
            ),
        ]

    def __str__(self) -> str:
        return self.name


class ScheduledJob(models.Model):
    """When a periodic job (:mod:`chats.deletion.schedule`) is next due.

    Every worker's scheduler moves ``next_run_at`` forward with one conditional
    ``UPDATE``; only the one whose update took effect enqueues the job, so several
    workers enqueue each period's run once.
    """

    name = models.CharField(max_length=64, primary_key=True)
    next_run_at = models.DateTimeField()
    last_enqueued_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.name
