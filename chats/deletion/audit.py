"""The audit trail: the only writer of ``DeletionRecord`` rows, and the deletion log.

A record is written inside the deletion's transaction (it commits or rolls back
with the rows), with the actor, the door and the counts; it is updated when the
counts change after commit (blobs storage refused, a large purge's next batch, an
orphan sweep's next batch, the worker's outbox pass). A background job's record
(:mod:`neptun.admin_jobs`) is written when the job is asked for and carries its
state, progress and heartbeat, written here too.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from chats.deletion.result import COUNT_KINDS, DeletionContext, DeletionResult
from chats.deletion.sql import Tally, counts_with_tally
from neptun.models import DeletionRecord, Tenant

logger = logging.getLogger("neptun.deletion")


def counts_json(
    result: DeletionResult, *, extra: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """A record's ``counts``: every kind (zero included), the types, the batches."""
    data: dict[str, Any] = {kind: 0 for kind in (*COUNT_KINDS, "blobs")}
    data.update(result.counts)
    data["by_type"] = dict(result.by_type)
    if result.batches > 1:
        data["batches"] = result.batches
    if extra:
        data.update(extra)
    return data


def write(
    *, ctx: DeletionContext, result: DeletionResult, extra: Mapping[str, Any] | None = None
) -> DeletionRecord:
    """The record of a deletion, as ``result`` stands; ``extra`` goes into its counts.

    With ``ctx.record_id`` (a background job's record, written when it was asked
    for), that record is filled instead of a new one written. Cascade counts not
    read yet (``result.tally``) are read by the same statement, into ``result`` too.
    """
    tally, result.tally = result.tally, None
    counts = _counts_value(result, extra, tally)
    if ctx.record_id is not None:
        record = DeletionRecord.objects.get(pk=ctx.record_id)
        record.counts = counts
        record.errors = result.errors
        record.save(update_fields=["counts", "errors"])
    else:
        record = DeletionRecord.objects.create(
            actor=ctx.actor if ctx.actor is not None and ctx.actor.pk else None,
            actor_email=getattr(ctx.actor, "email", "") or "",
            interface=ctx.interface,
            endpoint=ctx.endpoint[:300],
            remote_addr=ctx.remote_addr or None,
            counts=counts,
            errors=result.errors,
        )
    _take_tally(result, record, tally)
    return record


def write_each(*, ctx: DeletionContext, results: Sequence[DeletionResult]) -> list[DeletionRecord]:
    """One record per result, as :func:`write` would write each, in one statement
    (a deletion that books its counts to several owners)."""
    return DeletionRecord.objects.bulk_create(
        [
            DeletionRecord(
                actor=ctx.actor if ctx.actor is not None and ctx.actor.pk else None,
                actor_email=getattr(ctx.actor, "email", "") or "",
                interface=ctx.interface,
                endpoint=ctx.endpoint[:300],
                remote_addr=ctx.remote_addr or None,
                counts=counts_json(result),
                errors=result.errors,
            )
            for result in results
        ]
    )


def save(*, result: DeletionResult, extra: Mapping[str, Any] | None = None) -> None:
    """Write the counts and errors of ``result`` to its record (if it has one),
    reading its unread cascade counts as :func:`write` does."""
    if result.record_id is None:
        return
    tally, result.tally = result.tally, None
    if tally is None:
        DeletionRecord.objects.filter(pk=result.record_id).update(
            errors=result.errors, counts=counts_json(result, extra=extra)
        )
        return
    # An instance's save returns the value an expression computed (RETURNING).
    record = DeletionRecord(pk=result.record_id, errors=result.errors)
    record.counts = _counts_value(result, extra, tally)
    record.save(update_fields=["counts", "errors"])
    _take_tally(result, record, tally)


def _counts_value(
    result: DeletionResult, extra: Mapping[str, Any] | None, tally: Tally | None
) -> Any:
    data = counts_json(result, extra=extra)
    return data if tally is None else counts_with_tally(data, tally)


def _take_tally(result: DeletionResult, record: DeletionRecord, tally: Tally | None) -> None:
    if tally is not None:
        for kind in tally.kinds:
            result.counts[kind] = int(record.counts[kind])


def add_blob_outcome(
    *,
    record_id: int,
    blobs: int,
    removed: Iterable[str],
    gave_up: Iterable[dict[str, Any]],
) -> None:
    """Book a worker's outbox pass on a record: ``blobs`` more (or fewer) removed;
    the errors about ``removed`` blobs go, those it ``gave_up`` on say so."""
    with transaction.atomic():
        record = DeletionRecord.objects.select_for_update().filter(pk=record_id).first()
        if record is None:
            return
        counts = dict(record.counts)
        counts["blobs"] = counts.get("blobs", 0) + blobs
        done = set(removed)
        given_up = {entry["blob"]: entry for entry in gave_up}
        errors = [
            given_up.pop(error.get("blob"), error)
            for error in record.errors
            if error.get("blob") not in done
        ]
        errors.extend(given_up.values())
        record.counts, record.errors = counts, errors
        record.save(update_fields=["counts", "errors"])


def write_retention(
    *,
    endpoint: str,
    tenant: Tenant | None,
    policy: dict[str, Any],
    counts: dict[str, Any] | None = None,
) -> DeletionRecord:
    """The record of a retention run's batch (interface ``retention``), naming the
    tenant and the policy it applied; the batch's deletion fills its counts."""
    return DeletionRecord.objects.create(
        interface=DeletionRecord.Interface.RETENTION,
        endpoint=endpoint[:300],
        tenant=tenant,
        policy=policy,
        counts=counts or {},
    )


def forget_actor(*, email: str, email_hash: str) -> int:
    """Replace an erased person's email on every record that names them as actor by
    its keyed hash; how many records changed."""
    return DeletionRecord.objects.filter(actor_email__iexact=email).update(
        actor_email="", actor_email_hash=email_hash
    )


def set_tenant(*, record_id: int, tenant: Tenant | None) -> None:
    """Name the tenant a record belongs to (an erasure's, whose user row is gone)."""
    DeletionRecord.objects.filter(pk=record_id).update(tenant=tenant)


# --------------------------------------------------------------------------- jobs


def write_job(*, ctx: DeletionContext, job: dict[str, Any]) -> DeletionRecord:
    """The record of a background job, ``queued``, with what to delete in ``job``."""
    return DeletionRecord.objects.create(
        actor=ctx.actor if ctx.actor is not None and ctx.actor.pk else None,
        actor_email=getattr(ctx.actor, "email", "") or "",
        interface=ctx.interface,
        endpoint=ctx.endpoint[:300],
        remote_addr=ctx.remote_addr or None,
        state=DeletionRecord.State.QUEUED,
        heartbeat_at=timezone.now(),
        job=job,
    )


def claim_job(*, record_id: int, stale_before: datetime) -> bool:
    """Take a job: queued, or running with a heartbeat older than ``stale_before``.
    One statement, so exactly one run wins."""
    unfinished = Q(state=DeletionRecord.State.QUEUED) | Q(
        state=DeletionRecord.State.RUNNING, heartbeat_at__lt=stale_before
    )
    return bool(
        DeletionRecord.objects.filter(unfinished, pk=record_id).update(
            state=DeletionRecord.State.RUNNING, heartbeat_at=timezone.now()
        )
    )


def job_progress(*, record_id: int, done: int, total: int) -> None:
    """A job's progress after a committed batch, and its heartbeat."""
    DeletionRecord.objects.filter(pk=record_id).update(
        progress={"done": done, "total": total}, heartbeat_at=timezone.now()
    )


def job_failed(*, record_id: int, errors: list[dict[str, Any]]) -> None:
    DeletionRecord.objects.filter(pk=record_id).update(
        state=DeletionRecord.State.FAILED, finished_at=timezone.now(), errors=errors
    )


def job_done(
    *,
    record_id: int,
    counts: dict[str, Any],
    errors: list[dict[str, Any]],
    progress: dict[str, int],
) -> None:
    DeletionRecord.objects.filter(pk=record_id).update(
        state=DeletionRecord.State.DONE,
        finished_at=timezone.now(),
        counts=counts,
        errors=errors,
        progress=progress,
    )


def log(*, ctx: DeletionContext, result: DeletionResult) -> None:
    """One log line per deletion, with the record's id and counts."""
    actor = ctx.actor.email if ctx.actor else None
    logger.info(
        "deletion %s %s by %s: %s",
        ctx.interface,
        ctx.endpoint,
        actor or "system",
        dict(result.counts),
        extra={
            "event": "deletion",
            "record_id": result.record_id,
            "interface": ctx.interface,
            "endpoint": ctx.endpoint,
            "actor": actor,
            "counts": dict(result.counts),
            "by_type": dict(result.by_type),
            "batches": result.batches,
        },
    )
