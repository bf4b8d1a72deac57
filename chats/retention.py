"""Retention: data that goes away by itself when its tenant's policy says so.

A **policy** (:class:`Policy`) is a tenant's :class:`~neptun.models.RetentionPolicy`
row, or the instance default from the ``RETENTION_*`` settings for a tenant without
one (and for users of no tenant). It has three limits, each of which may be ``None``,
"keep forever":

- ``inactive_days``: a conversation whose last message — or, when it has none, its
  creation — is older than that is deleted; ``conversation_types`` narrows this to
  some types (``None``: every type).
- ``temporary_hours``: a chat created with ``"temporary": true`` expires that many
  hours after its creation. The expiry is fixed on the chat when it is created
  (:func:`temporary_expiry`): a later change of the policy applies to chats created
  after it, so nobody's open temporary chat vanishes earlier than it was told.
  From its expiry on the chat is gone for every reader
  (:meth:`chats.models.ChatQuerySet.visible`), before a run removes its rows.
- ``record_days``: deletion records older than that are pruned.

A **run** (:func:`retention_apply`) applies every policy through the deletion engine
(:func:`chats.services.chats_delete`), ``RETENTION_BATCH_CHATS`` chats a transaction;
each batch writes one deletion record with interface ``retention``, its tenant and the
policy it applied. It runs periodically on the worker (``RETENTION_INTERVAL``) and as
``manage.py apply_retention``. Runs never happen in the request that changes a policy.

Batches select their chats with ``FOR UPDATE SKIP LOCKED`` (PostgreSQL): two workers
running at once take different chats, and a chat is deleted — and recorded — once.
A run that stops halfway has committed whole batches; the next run selects what is
left by the same conditions, so it resumes where the other stopped.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from chats.deletion import audit
from chats.models import BlobRemoval, Chat, ChatQuerySet, ConversationType, Message
from chats.services import DeletionContext, chats_delete, chats_delete_preview
from neptun.exceptions import InvalidInput
from neptun.models import DeletionRecord, RetentionPolicy, Tenant, User

#: Conversation-type keys of a policy; ``null`` is the NULL type.
CONVERSATION_TYPES: dict[str, str | None] = {
    "regular": ConversationType.REGULAR,
    "user_files": ConversationType.USER_FILES,
    "global_collection": ConversationType.GLOBAL_COLLECTION,
    "null": None,
}

#: Largest values a policy accepts (a hundred years).
MAX_DAYS = 36_500
MAX_HOURS = MAX_DAYS * 24

LIMITS = {"inactive_days": MAX_DAYS, "temporary_hours": MAX_HOURS, "record_days": MAX_DAYS}
FIELDS = (*LIMITS, "conversation_types")


@dataclass(frozen=True)
class Policy:
    """The limits a run applies to one tenant (see the module docstring)."""

    inactive_days: int | None
    conversation_types: tuple[str, ...] | None
    temporary_hours: int | None
    record_days: int | None
    #: ``tenant``: the tenant's own policy; ``default``: the instance's.
    source: str = "default"

    def as_dict(self) -> dict[str, Any]:
        return {
            "inactive_days": self.inactive_days,
            "conversation_types": (
                list(self.conversation_types) if self.conversation_types is not None else None
            ),
            "temporary_hours": self.temporary_hours,
            "record_days": self.record_days,
            "source": self.source,
        }


def instance_policy() -> Policy:
    """The instance default (``RETENTION_*`` settings)."""
    types = tuple(settings.RETENTION_CONVERSATION_TYPES) or None
    return Policy(
        inactive_days=settings.RETENTION_INACTIVE_DAYS,
        conversation_types=types,
        temporary_hours=settings.RETENTION_TEMPORARY_HOURS,
        record_days=settings.RETENTION_RECORD_DAYS,
    )


def _from_row(row: RetentionPolicy) -> Policy:
    types = row.conversation_types
    return Policy(
        inactive_days=row.inactive_days,
        conversation_types=tuple(types) if types is not None else None,
        temporary_hours=row.temporary_hours,
        record_days=row.record_days,
        source="tenant",
    )


def policy_for(*, tenant: Tenant | None) -> Policy:
    """The policy that applies to ``tenant``: its own, else the instance default."""
    if tenant is not None:
        row = RetentionPolicy.objects.filter(tenant=tenant).first()
        if row is not None:
            return _from_row(row)
    return instance_policy()


def policy_validate(*, data: object, current: Policy) -> Policy:
    """The policy ``data`` (a JSON object) makes of ``current``.

    Keys left out keep their current value; ``null`` is "keep forever" (for
    ``conversation_types``: every type). A limit is a whole number from 1 (days or
    hours) to a hundred years; ``conversation_types`` a non-empty list of the type
    keys. Unknown keys are refused: a typo must not leave a limit silently unchanged.
    :class:`InvalidInput` names the field; nothing is written here.
    """
    if not isinstance(data, Mapping):
        raise InvalidInput("The body must be a JSON object.")
    unknown = sorted(str(key) for key in data if key not in FIELDS)
    if unknown:
        raise InvalidInput(
            f'Unknown field "{unknown[0]}"; the fields are {", ".join(FIELDS)}.', field=unknown[0]
        )
    values = current.as_dict()
    for name, most in LIMITS.items():
        if name not in data:
            continue
        value = data[name]
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= most
        ):
            raise InvalidInput(
                f'"{name}" must be a whole number from 1 to {most}, or null (keep forever).',
                field=name,
            )
        values[name] = value
    if "conversation_types" in data:
        types = data["conversation_types"]
        if types is not None and (
            not isinstance(types, list)
            or not types
            or any(not isinstance(t, str) or t not in CONVERSATION_TYPES for t in types)
        ):
            raise InvalidInput(
                '"conversation_types" must be a non-empty list of '
                f"{', '.join(CONVERSATION_TYPES)}, or null (every type).",
                field="conversation_types",
            )
        values["conversation_types"] = tuple(dict.fromkeys(types)) if types is not None else None
    return Policy(
        inactive_days=values["inactive_days"],
        conversation_types=values["conversation_types"],
        temporary_hours=values["temporary_hours"],
        record_days=values["record_days"],
        source="tenant",
    )


@transaction.atomic
def policy_set(*, tenant: Tenant, data: object) -> Policy:
    """Validate ``data`` (:func:`policy_validate`) and store it as ``tenant``'s policy.

    Nothing is deleted here: the next run applies it.
    """
    Tenant.objects.select_for_update().filter(pk=tenant.pk).exists()  # one writer at a time
    policy = policy_validate(data=data, current=policy_for(tenant=tenant))
    RetentionPolicy.objects.update_or_create(
        tenant=tenant,
        defaults={
            "inactive_days": policy.inactive_days,
            "conversation_types": (
                list(policy.conversation_types) if policy.conversation_types is not None else None
            ),
            "temporary_hours": policy.temporary_hours,
            "record_days": policy.record_days,
        },
    )
    return policy


def temporary_expiry(*, owner: User, now: datetime) -> datetime | None:
    """When a temporary chat of ``owner`` created ``now`` expires (``None``: never)."""
    hours = policy_for(tenant=owner.tenant).temporary_hours
    return now + timedelta(hours=hours) if hours is not None else None


# --------------------------------------------------------------------------- what a run takes


@dataclass(frozen=True)
class Scope:
    """The tenant a run applies one policy to; ``tenant=None``: every tenant without
    its own policy, and users of no tenant (the instance default)."""

    tenant: Tenant | None
    policy: Policy

    @property
    def label(self) -> str:
        return f"tenant {self.tenant.name}" if self.tenant is not None else "instance default"


def scopes(*, tenant: Tenant | None = None) -> list[Scope]:
    """The scopes of a run: one tenant's (with ``tenant``), or all of them."""
    if tenant is not None:
        return [Scope(tenant, policy_for(tenant=tenant))]
    rows = RetentionPolicy.objects.select_related("tenant").order_by("tenant_id")
    return [Scope(row.tenant, _from_row(row)) for row in rows] + [Scope(None, instance_policy())]


def _owners(scope: Scope) -> Q:
    if scope.tenant is not None:
        return Q(owner__tenant=scope.tenant)
    # Users of no tenant, and of tenants without their own policy.
    return Q(owner__tenant__isnull=True) | Q(owner__tenant__retention_policy__isnull=True)


def chats_due(*, scope: Scope, now: datetime) -> ChatQuerySet:
    """Chats the scope's policy deletes at ``now``: expired temporary chats, and
    conversations (of the policy's types) inactive for longer than ``inactive_days``."""
    due = Q(expires_at__lte=now)
    days = scope.policy.inactive_days
    if days is not None:
        cutoff = now - timedelta(days=days)
        recent = Message.objects.filter(chat=OuterRef("pk"), created_at__gte=cutoff)
        inactive = Q(Q(created_at__lt=cutoff), ~Exists(recent))
        types = scope.policy.conversation_types
        if types is not None:
            kinds = [CONVERSATION_TYPES[t] for t in types if CONVERSATION_TYPES[t] is not None]
            of_type = Q(conversation_type__in=kinds)
            if "null" in types:
                of_type |= Q(conversation_type__isnull=True)
            inactive = Q(inactive, of_type)
        due |= inactive
    return Chat.objects.filter(_owners(scope)).filter(due)


def records_due(*, scope: Scope, now: datetime) -> QuerySet[DeletionRecord]:
    """Finished deletion records older than the scope's ``record_days``.

    A record belongs to its ``tenant`` or, without one, to its actor's tenant; records
    of neither follow the instance default. Unfinished ones (a background job) and
    ones whose outbox rows are still waiting (their outcome is written back) stay.
    """
    days = scope.policy.record_days
    if days is None:
        return DeletionRecord.objects.none()
    if scope.tenant is not None:
        whose = Q(tenant=scope.tenant) | Q(tenant__isnull=True, actor__tenant=scope.tenant)
    else:
        own_policy = RetentionPolicy.objects.values("tenant_id")
        whose = Q(tenant__isnull=True) & (
            Q(actor__isnull=True) | Q(actor__tenant__isnull=True) | ~Q(actor__tenant__in=own_policy)
        )
        whose |= Q(tenant__isnull=False) & ~Q(tenant__in=own_policy)
    waiting = BlobRemoval.objects.filter(record_id=OuterRef("pk"))
    return (
        DeletionRecord.objects.filter(whose, created_at__lt=now - timedelta(days=days))
        .filter(state__in=[DeletionRecord.State.DONE, DeletionRecord.State.FAILED])
        .exclude(Exists(waiting))
    )


def anything_due() -> bool:
    """Whether a run may have work (the scheduler's cheap question): an expired
    temporary chat, or a policy that deletes by age at all."""
    default = instance_policy()
    return (
        default.inactive_days is not None
        or default.record_days is not None
        or Chat.objects.expired().exists()
        or RetentionPolicy.objects.filter(
            Q(inactive_days__isnull=False) | Q(record_days__isnull=False)
        ).exists()
    )


# --------------------------------------------------------------------------- runs


@dataclass
class ScopeReport:
    """What a run did (or, dry, would do) under one scope's policy."""

    scope: Scope
    counts: Counter[str] = field(default_factory=Counter)
    record_ids: list[int] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "tenant": self.scope.tenant.name if self.scope.tenant is not None else None,
            "policy": self.scope.policy.as_dict(),
            "counts": dict(self.counts),
            "record_ids": self.record_ids,
            "errors": self.errors,
        }


@dataclass
class RunReport:
    dry_run: bool
    now: datetime
    scopes: list[ScopeReport] = field(default_factory=list)

    @property
    def counts(self) -> Counter[str]:
        total: Counter[str] = Counter()
        for report in self.scopes:
            total.update(report.counts)
        return total

    def as_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "now": self.now.isoformat(),
            "counts": dict(self.counts),
            "scopes": [report.as_dict() for report in self.scopes],
        }


def _batch_size() -> int:
    return max(1, int(settings.RETENTION_BATCH_CHATS))


def _endpoint(scope: Scope) -> str:
    return f"retention run: {scope.label}"


def _delete_batch(scope: Scope, now: datetime, report: ScopeReport) -> int:
    """Delete the next batch of the scope's due chats in one transaction; how many
    chats it deleted (0: none left). The chats are taken with ``SKIP LOCKED``: a concurrent run's
    chats are left to it."""
    with transaction.atomic():
        due = chats_due(scope=scope, now=now).order_by("id")
        if transaction.get_connection().features.has_select_for_update_skip_locked:
            due = due.select_for_update(skip_locked=True, of=("self",))
        ids = list(due.values_list("id", flat=True)[: _batch_size()])
        if not ids:
            return 0
        record = audit.write_retention(
            endpoint=_endpoint(scope), tenant=scope.tenant, policy=scope.policy.as_dict()
        )
        ctx = DeletionContext(
            actor=None,
            interface=DeletionRecord.Interface.RETENTION,
            endpoint=_endpoint(scope),
            record_id=record.pk,
        )
        result = chats_delete(chats=Chat.objects.filter(pk__in=ids), ctx=ctx)
    report.counts.update(result.counts)
    report.record_ids.append(record.pk)
    report.errors.extend(result.errors)
    return result.counts["chats"]


def _prune_records(scope: Scope, now: datetime, report: ScopeReport) -> None:
    """Delete the scope's expired deletion records, a batch a transaction; one record
    (interface ``retention``) says how many went."""
    pruned = 0
    while True:
        with transaction.atomic():
            ids = list(
                records_due(scope=scope, now=now)
                .order_by("id")
                .values_list("id", flat=True)[: _batch_size()]
            )
            if not ids:
                break
            pruned += DeletionRecord.objects.filter(pk__in=ids).delete()[0]
    if pruned:
        record = audit.write_retention(
            endpoint=f"{_endpoint(scope)}: deletion records",
            tenant=scope.tenant,
            policy=scope.policy.as_dict(),
            counts={"deletion_records": pruned},
        )
        report.counts["deletion_records"] += pruned
        report.record_ids.append(record.pk)


def retention_apply(
    *, tenant: Tenant | None = None, dry_run: bool = True, now: datetime | None = None
) -> RunReport:
    """Apply the retention policies (one tenant's with ``tenant``) at ``now``.

    Dry (the default), it only counts — through the engine's preview, so the counts
    are what a run would delete — and writes nothing.
    """
    moment = now or timezone.now()
    report = RunReport(dry_run=dry_run, now=moment)
    for scope in scopes(tenant=tenant):
        scope_report = ScopeReport(scope)
        report.scopes.append(scope_report)
        if dry_run:
            preview = chats_delete_preview(chats=chats_due(scope=scope, now=moment))
            scope_report.counts.update(
                {kind: n for kind, n in preview.as_dict()["counts"].items() if n}
            )
            records = records_due(scope=scope, now=moment).count()
            if records:
                scope_report.counts["deletion_records"] = records
            continue
        # Each pass deletes at least one chat or ends the loop; the chats due are
        # finite and none becomes due again, so the loop ends.
        while _delete_batch(scope, moment, scope_report):
            pass
        _prune_records(scope, moment, scope_report)
    return report
