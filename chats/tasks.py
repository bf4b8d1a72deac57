"""Background jobs on Django's Tasks framework (``django.tasks``).

They run on the worker (``manage.py worker``), whatever the backend: the database
one by default, RQ on Redis for deployments on many machines. Each job is
idempotent, so a job that runs twice, or on two workers at once, does its work once.
"""

from __future__ import annotations

from typing import Any

from django.tasks import task

from chats import cleanup
from chats.deletion import effects
from chats.services import DeletionContext
from neptun.models import DeletionRecord

#: The endpoint a periodic orphan sweep's record names.
ORPHAN_SWEEP_ENDPOINT = "worker: periodic cleanup_orphans"


@task
def sweep_outbox() -> dict[str, Any]:
    """Carry out the outbox rows nobody holds: failures whose backoff is over, and
    rows of a process that died between its commit and its removals. Then move on
    the erasure receipts waiting for those blobs (:mod:`neptun.erasure`)."""
    from neptun import erasure

    outcome = effects.sweep().as_dict()
    return {**outcome, "erasures_completed": erasure.erasures_refresh_pending()}


@task
def sweep_orphans() -> dict[str, Any]:
    """``cleanup_orphans --yes`` with its defaults, as a periodic job (daily by
    default: ``ORPHAN_SWEEP_INTERVAL``). Loose files stay and rows of missing blobs
    are only reported, exactly as the command does without its extra flags; one
    deletion record (interface ``command``) per run that removed something."""
    ctx = DeletionContext(
        actor=None, interface=DeletionRecord.Interface.COMMAND, endpoint=ORPHAN_SWEEP_ENDPOINT
    )
    report = cleanup.orphans_delete(options=cleanup.SweepOptions(), ctx=ctx)
    return {
        "record_id": report.record_id,
        "removed": {kind: r.removed for kind, r in report.kinds.items()},
        "errors": len(report.errors),
    }


@task
def run_deletion_job(record_id: int) -> dict[str, Any]:
    """A big admin purge (neptun/admin_jobs.py): run, or resume, the record's job."""
    from neptun import admin_jobs

    return admin_jobs.run(record_id)


@task
def resume_deletion_jobs() -> list[int]:
    """Enqueue again the background deletions whose run stopped (worker gone)."""
    from neptun import admin_jobs

    return admin_jobs.resume_stale()


@task
def apply_retention() -> dict[str, Any]:
    """Apply every tenant's retention policy (hourly by default: ``RETENTION_INTERVAL``):
    expired temporary chats, inactive conversations, old deletion records. Two workers
    running it at once delete each chat once (:mod:`chats.retention`)."""
    from chats import retention

    report = retention.retention_apply(dry_run=False)
    return {"counts": dict(report.counts)}
