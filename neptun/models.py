"""Identity and audit: tenants, users, API keys, access tokens, deletion records.

On-delete plan (Django 6.1 check ``fields.E323`` forbids mixing database- and
Python-level ``on_delete`` along one chain of references, and Django's own auth and
admin models point at the user model with Python-level ``CASCADE``):

- ``User.tenant`` is ``DO_NOTHING``: the deletion service deletes a tenant's users
  before the tenant.
- Everything that hangs off a user (chats, projects, collections, files, tokens …)
  uses ``DB_CASCADE`` / ``DB_SET_NULL``: the database removes pure data rows, none
  of them is loaded into Python.
- ``DeletionRecord.actor`` is ``DB_SET_NULL`` and the record keeps a copy of the
  actor's email, so the audit trail outlives the user.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import timedelta

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.db import models
from django.utils import timezone


class Tenant(models.Model):
    name = models.CharField(max_length=200, unique=True)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.name


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **extra) -> User:
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **extra) -> User:
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self.create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    email = models.EmailField(unique=True)
    tenant = models.ForeignKey(
        Tenant, null=True, blank=True, on_delete=models.DO_NOTHING, related_name="users"
    )
    is_staff = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"

    def __str__(self) -> str:
        return self.email


def hash_secret(secret: str) -> str:
    """SHA-256 of a high-entropy secret. Keys and tokens are stored only this way."""
    return hashlib.sha256(secret.encode()).hexdigest()


class ApiKey(models.Model):
    """A tenant's key for the v1 API. The secret is shown once; only its hash is kept."""

    PREFIX = "nk_"

    tenant = models.ForeignKey(Tenant, on_delete=models.DB_CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100, default="default")
    prefix = models.CharField(max_length=16, db_index=True)
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "API key"
        verbose_name_plural = "API keys"

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.name})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    @classmethod
    def generate(cls, *, tenant: Tenant, name: str = "default") -> tuple[ApiKey, str]:
        secret = cls.PREFIX + secrets.token_urlsafe(32)
        key = cls.objects.create(
            tenant=tenant, name=name, prefix=secret[:10], key_hash=hash_secret(secret)
        )
        return key, secret


class AccessToken(models.Model):
    """A user's bearer token. The secret is shown once; only its hash is kept."""

    PREFIX = "nt_"

    user = models.ForeignKey(User, on_delete=models.DB_CASCADE, related_name="access_tokens")
    name = models.CharField(max_length=100, default="default")
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"token of {self.user_id} ({self.name})"

    @property
    def is_expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()

    @classmethod
    def generate(
        cls, *, user: User, days: int | None = 30, name: str = "default"
    ) -> tuple[AccessToken, str]:
        secret = cls.PREFIX + secrets.token_urlsafe(32)
        expires = timezone.now() + timedelta(days=days) if days else None
        token = cls.objects.create(
            user=user, name=name, token_hash=hash_secret(secret), expires_at=expires
        )
        return token, secret


class DeletionRecord(models.Model):
    """One row per deletion, whoever made it. Never deleted with anything."""

    class Interface(models.TextChoices):
        API = "api", "API"
        ADMIN = "admin", "Admin"
        COMMAND = "command", "Management command"
        RETENTION = "retention", "Retention policy"

    actor = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.DB_SET_NULL, related_name="+"
    )
    actor_email = models.CharField(max_length=254, blank=True)
    #: The keyed hash (:func:`neptun.erasure.email_hash`) of the actor's email once
    #: that user was erased: ``actor_email`` is emptied then, and this answers
    #: "did this address act here?" without keeping the address.
    actor_email_hash = models.CharField(max_length=64, blank=True, db_index=True)
    #: The tenant whose data the deletion removed, where the door knows it (retention
    #: runs, erasures); a tenant's retention policy prunes its own records by it.
    tenant = models.ForeignKey(
        Tenant, null=True, blank=True, on_delete=models.DB_SET_NULL, related_name="+"
    )
    #: The retention policy a retention run applied (its values, as the run saw them).
    policy = models.JSONField(null=True, blank=True)
    interface = models.CharField(max_length=16, choices=Interface.choices)
    endpoint = models.CharField(max_length=300, blank=True)
    remote_addr = models.GenericIPAddressField(null=True, blank=True)
    counts = models.JSONField(default=dict)
    errors = models.JSONField(default=list)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    #: A deletion run in the request is done when its record is written; a big admin
    #: purge run as a background job (neptun/admin_jobs.py) goes queued → running →
    #: done or failed, with ``progress`` ({"done": batches, "total": batches}).
    state = models.CharField(max_length=16, choices=State.choices, default=State.DONE)
    progress = models.JSONField(default=dict, blank=True)
    #: What a background job deletes (model, action, ids, options), so that it can run
    #: — and resume after an interruption — on the worker.
    job = models.JSONField(null=True, blank=True)
    #: Written by a running job after each batch; a job whose heartbeat is older than
    #: ``DELETION_JOB_STALE_AFTER`` seconds is taken over (resumed).
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(
                fields=["state"],
                name="neptun_record_unfinished",
                condition=models.Q(state__in=["queued", "running"]),
            )
        ]

    def __str__(self) -> str:
        return f"{self.interface} {self.endpoint} by {self.actor_email or 'system'}"


class RetentionPolicy(models.Model):
    """A tenant's retention policy; a tenant without one follows the instance default
    (``RETENTION_*`` settings). Each limit may be NULL: keep forever.

    Applied only by retention runs (:mod:`chats.retention`), never in the request
    that changes it.
    """

    tenant = models.OneToOneField(
        Tenant, on_delete=models.DB_CASCADE, related_name="retention_policy"
    )
    #: Conversations with no message (or, when empty, no creation) for more than
    #: this many days are deleted.
    inactive_days = models.PositiveIntegerField(null=True, blank=True)
    #: The conversation types ``inactive_days`` applies to (``regular``,
    #: ``user_files``, ``global_collection``, ``null``); NULL: every type.
    conversation_types = models.JSONField(null=True, blank=True)
    #: Hours a temporary chat lives, counted from its creation.
    temporary_hours = models.PositiveIntegerField(null=True, blank=True)
    #: Deletion records older than this many days are pruned.
    record_days = models.PositiveIntegerField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "retention policies"

    def __str__(self) -> str:
        return f"retention policy of {self.tenant}"


class Erasure(models.Model):
    """The receipt of a user's erasure (:mod:`neptun.erasure`).

    It keeps no personal data of the erased person: not the user's id, not the
    email — only its keyed hash, so that "was this address erased?" can be answered.
    ``status`` is ``pending`` while the outbox still holds blobs of the user's files
    to remove, then ``complete``.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        COMPLETE = "complete", "Complete"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey(
        Tenant, null=True, blank=True, on_delete=models.DB_SET_NULL, related_name="+"
    )
    email_hash = models.CharField(max_length=64, db_index=True)
    record = models.ForeignKey(
        DeletionRecord, null=True, blank=True, on_delete=models.DB_SET_NULL, related_name="+"
    )
    interface = models.CharField(max_length=16, choices=DeletionRecord.Interface.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    counts = models.JSONField(default=dict)
    verification = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"erasure {self.id} ({self.status})"
