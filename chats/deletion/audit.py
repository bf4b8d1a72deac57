"""The audit trail: the only writer of ``DeletionRecord`` rows, and the deletion log.

A record is written inside the deletion's transaction (it commits or rolls back
with the rows), with the actor, the door and the counts; it is updated when the
counts change after commit (blobs storage refused, a large purge's next batch, an
orphan sweep's next batch).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from chats.deletion.result import COUNT_KINDS, DeletionContext, DeletionResult
from neptun.models import DeletionRecord

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
    for), that record is filled instead of a new one written.
    """
    if ctx.record_id is not None:
        record = DeletionRecord.objects.get(pk=ctx.record_id)
        record.counts = counts_json(result, extra=extra)
        record.errors = result.errors
        record.save(update_fields=["counts", "errors"])
        return record
    return DeletionRecord.objects.create(
        actor=ctx.actor if ctx.actor is not None and ctx.actor.pk else None,
        actor_email=getattr(ctx.actor, "email", "") or "",
        interface=ctx.interface,
        endpoint=ctx.endpoint[:300],
        remote_addr=ctx.remote_addr or None,
        counts=counts_json(result, extra=extra),
        errors=result.errors,
    )


def save(*, result: DeletionResult, extra: Mapping[str, Any] | None = None) -> None:
    """Write the counts and errors of ``result`` to its record (if it has one)."""
    if result.record_id is None:
        return
    DeletionRecord.objects.filter(pk=result.record_id).update(
        errors=result.errors, counts=counts_json(result, extra=extra)
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
