"""Periodic jobs, enqueued by the worker's scheduler (``manage.py worker``).

:func:`_periodic` names each job: its task, the setting that gives its interval in
seconds (0 switches it off), and a cheap question whether there is anything to do
(so an idle deployment does not fill the task table with empty runs).
:func:`enqueue_due` is called about once a second by every running worker; for each
job whose moment has come it moves ``ScheduledJob.next_run_at`` forward with one
conditional ``UPDATE`` and enqueues the task only when that update took effect, so
however many workers run, each period's job is enqueued once. The update and the
enqueueing share a transaction: if the enqueueing fails, the period stays due.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.tasks import Task
from django.utils import timezone

from chats.deletion import effects
from chats.models import ScheduledJob


@dataclass(frozen=True)
class Periodic:
    task: Task[..., Any]
    interval: Callable[[], int]
    needed: Callable[[], bool] = lambda: True


def _periodic() -> dict[str, Periodic]:
    from chats import tasks

    return {
        "outbox-sweep": Periodic(
            tasks.sweep_outbox,
            lambda: settings.OUTBOX_SWEEP_INTERVAL,
            needed=effects.anything_due,
        ),
        "orphan-sweep": Periodic(tasks.sweep_orphans, lambda: settings.ORPHAN_SWEEP_INTERVAL),
        "retention": Periodic(
            tasks.apply_retention,
            lambda: settings.RETENTION_INTERVAL,
            needed=_retention_due,
        ),
        "resume-deletion-jobs": Periodic(
            tasks.resume_deletion_jobs,
            lambda: settings.DELETION_JOB_STALE_AFTER // 2,
            needed=_any_stale_job,
        ),
    }


def _retention_due() -> bool:
    from chats import retention

    return retention.anything_due()


def _any_stale_job() -> bool:
    from neptun import admin_jobs

    return admin_jobs.any_stale()


def enqueue_due(now: datetime | None = None) -> list[str]:
    """Enqueue the periodic jobs that are due; the names of those this call enqueued."""
    now = now or timezone.now()
    enqueued = []
    for name, job in _periodic().items():
        seconds = job.interval()
        if seconds <= 0:
            continue  # switched off
        ScheduledJob.objects.get_or_create(name=name, defaults={"next_run_at": now})
        # One transaction: a period whose job could not be enqueued (the queue is on
        # Redis and Redis is away) is not marked done, so the next look tries again.
        with transaction.atomic():
            won = ScheduledJob.objects.filter(name=name, next_run_at__lte=now).update(
                next_run_at=now + timedelta(seconds=seconds), last_enqueued_at=now
            )
            if won and job.needed():
                job.task.enqueue()
                enqueued.append(name)
    return enqueued
