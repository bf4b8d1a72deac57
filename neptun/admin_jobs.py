"""Big admin purges as background jobs, with state and progress on their record.

An admin deletion whose preview counts more than ``DELETION_JOB_THRESHOLD`` rows
(chats, messages, files, collections, links, … together) does not hold the HTTP
request: :func:`enqueue` writes its :class:`~neptun.models.DeletionRecord` at once,
``queued``, with what to delete in ``job`` (the model, the admin action, the selected
ids and the options), and enqueues :func:`chats.tasks.run_deletion_job`. On the
worker, :func:`run` claims the record (``running``), calls the same service the
action calls with that record as its own, writes ``progress`` (batches done of the
total) and a heartbeat after every committed batch, and ends ``done`` (counts as a
synchronous run would write them) or ``failed`` (the error on the record).

Interrupted — the worker killed, the machine gone — the record keeps ``running``
with a heartbeat that stops moving. The periodic ``resume-deletion-jobs`` job
(:func:`resume_stale`) enqueues such a job again once its heartbeat is older than
``DELETION_JOB_STALE_AFTER`` seconds; the claim lets exactly one run take it, and the
run deletes what is left of the selection (what was committed stays deleted), adding
its counts to those already on the record.
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from chats.deletion import audit
from chats.services import DeletionContext, DeletionResult
from neptun.models import DeletionRecord, User

logger = logging.getLogger("neptun.jobs")

#: Kinds whose counts do not add to a deletion's size (derived from the others).
_NOT_SIZE = {"blobs", "by_type", "batches"}


def size_of(preview: DeletionResult | Any) -> int:
    """Rows a previewed deletion removes, all kinds together (blobs aside); takes a
    preview or anything with its ``counts`` (a confirmation page's column)."""
    return sum(
        n for kind, n in preview.counts.items() if kind not in _NOT_SIZE and isinstance(n, int)
    )


def enabled() -> bool:
    return bool(settings.DELETION_JOB_THRESHOLD > 0)


def is_big(rows: int) -> bool:
    """Whether a deletion of that many rows runs as a background job."""
    threshold = settings.DELETION_JOB_THRESHOLD
    return threshold > 0 and rows > threshold


def enqueue(
    ctx: DeletionContext,
    *,
    model: str,
    action: str,
    queryset: QuerySet[Any],
    options: dict[str, Any],
) -> DeletionRecord:
    """Write the job's record (``queued``) and enqueue its run after commit."""
    from django.db import transaction

    from chats import tasks

    record = audit.write_job(
        ctx=ctx,
        job={
            "model": model,
            "action": action,
            "ids": list(queryset.order_by("pk").values_list("pk", flat=True)),
            "options": options,
            "actor_id": ctx.actor.pk if ctx.actor is not None else None,
        },
    )
    transaction.on_commit(lambda: tasks.run_deletion_job.enqueue(record.pk))
    return record


def _stale_before() -> Any:
    return timezone.now() - timedelta(seconds=settings.DELETION_JOB_STALE_AFTER)


def run(record_id: int) -> dict[str, Any]:
    """Run (or resume) the job of a record; what it did, for the task's result."""
    from django.apps import apps
    from django.contrib import admin

    # Queued, or running with a heartbeat that stopped; one winner.
    if not audit.claim_job(record_id=record_id, stale_before=_stale_before()):
        return {"record_id": record_id, "skipped": "not queued, or running elsewhere"}
    record = DeletionRecord.objects.get(pk=record_id)
    job = record.job or {}
    # A resumed run adds to what the interrupted one had committed and recorded.
    before = Counter({k: v for k, v in (record.counts or {}).items() if isinstance(v, int)})

    def progress(done: int, total: int) -> None:
        audit.job_progress(record_id=record_id, done=done, total=total)

    try:
        model = apps.get_model(job["model"])
        deletion = admin.site._registry[model].deletions()[job["action"]]  # type: ignore[attr-defined]
        queryset = model._default_manager.filter(pk__in=job["ids"])
        actor_id = job.get("actor_id")
        ctx = DeletionContext(
            actor=User.objects.filter(pk=actor_id).first() if actor_id is not None else None,
            interface=record.interface,
            endpoint=record.endpoint,
            remote_addr=record.remote_addr,
            record_id=record_id,
            progress=progress,
        )
        results = deletion.execute(queryset, job.get("options") or {}, ctx)
    except Exception as exc:
        logger.exception("deletion job %s failed", record_id)
        audit.job_failed(
            record_id=record_id,
            errors=[*record.errors, {"kind": "job", "error": f"{type(exc).__name__}: {exc}"}],
        )
        raise
    counts: Counter[str] = Counter(before)
    by_type: Counter[str] = Counter()
    errors: list[dict[str, Any]] = []
    for result in results:
        counts.update(result.counts)
        by_type.update(result.by_type)
        errors.extend(result.errors)
    record.refresh_from_db()
    data: dict[str, Any] = {**record.counts, **counts, "by_type": dict(by_type)}
    progress_done = record.progress or {}
    audit.job_done(
        record_id=record_id,
        counts=data,
        errors=errors,
        progress={"done": progress_done.get("total", 1), "total": progress_done.get("total", 1)},
    )
    return {"record_id": record_id, "counts": dict(counts)}


def _stale_jobs() -> QuerySet[DeletionRecord]:
    """Jobs not finished whose heartbeat stopped (queued and never taken, or running)."""
    return DeletionRecord.objects.filter(
        state__in=[DeletionRecord.State.QUEUED, DeletionRecord.State.RUNNING],
        heartbeat_at__lt=_stale_before(),
        job__isnull=False,
    )


def resume_stale() -> list[int]:
    """Enqueue again the jobs whose run stopped (heartbeat older than the limit)."""
    from chats import tasks

    ids = list(_stale_jobs().values_list("pk", flat=True))
    for record_id in ids:
        tasks.run_deletion_job.enqueue(record_id)
    return ids


def any_stale() -> bool:
    return _stale_jobs().exists()
