"""``manage.py worker``: the background worker, for either task backend, with Neptun's
scheduler of periodic jobs beside it.

- Database backend (the default): django-tasks-db's ``db_worker``, with its options
  (``--batch``, ``--queue-name``, ``--max-tasks``, …).
- RQ backend (``TASKS_BACKEND=rq``): an RQ worker on the task queues, with
  django-tasks-rq's job class (which runs a ``django.tasks`` task), RQ's own scheduler
  of deferred jobs (``run_after``) on, and the same options where they mean
  something: ``--batch`` is RQ's burst mode, ``--queue-name`` (comma separated, ``*``
  for all), ``--max-tasks``, ``--worker-id`` (RQ's worker name; unique among live
  workers). ``--reload`` and ``--no-startup-delay`` are accepted and do nothing, so
  one command line serves both backends. RQ runs each job in a forked child process.

A scheduler thread enqueues the periodic jobs of :mod:`chats.deletion.schedule` as
they come due (once per period across all workers, whatever the backend: the
schedule is kept in the database); ``--no-scheduler`` leaves that to other workers.
With ``--batch`` the due jobs are enqueued once, then every outstanding task runs
and the worker exits (handy in cron and in tests).
"""

from __future__ import annotations

import logging
import threading
import time
from argparse import BooleanOptionalAction
from typing import Any

from django.conf import settings
from django.core.management.base import CommandError
from django.db import close_old_connections, connections
from django.tasks import DEFAULT_TASK_BACKEND_ALIAS, task_backends
from django_tasks_db.management.commands.db_worker import Command as DbWorkerCommand

from chats.deletion.schedule import enqueue_due

logger = logging.getLogger("neptun.worker")

#: Seconds between two looks at the schedule.
TICK = 1.0


def _schedule_forever(stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            enqueue_due()
        except Exception:
            logger.exception("could not enqueue the periodic jobs; trying again")
        finally:
            close_old_connections()
        stop.wait(TICK)


def _is_rq(alias: str = DEFAULT_TASK_BACKEND_ALIAS) -> bool:
    """Whether the task backend ``alias`` is django-tasks-rq's."""
    if settings.TASKS.get(alias, {}).get("BACKEND") != "django_tasks_rq.RQBackend":
        return False
    from django_tasks_rq import RQBackend

    return isinstance(task_backends[alias], RQBackend)


def _run_rq(
    *, queue_name: str, batch: bool, max_tasks: int | None, worker_id: str | None, verbosity: int
) -> None:
    """An RQ worker on the backend's queues, until stopped (or, in burst mode, until
    nothing is left)."""
    import django_rq
    from django_tasks_rq import Job
    from rq import Worker

    names = sorted(task_backends[DEFAULT_TASK_BACKEND_ALIAS].queues)
    if queue_name != "*":
        names = [name for name in queue_name.split(",") if name]
        unknown = sorted(set(names) - set(settings.RQ_QUEUES))
        if unknown:
            raise CommandError(f"not a task queue: {', '.join(unknown)}")
    queues = [django_rq.get_queue(name, job_class=Job) for name in names]
    level = "WARNING" if verbosity == 0 else "DEBUG" if verbosity >= 2 else "INFO"
    worker = Worker(queues, connection=queues[0].connection, job_class=Job, name=worker_id)
    # RQ forks a child per job: no database connection is handed down to it.
    for connection in connections.all():
        connection.close()
    worker.work(burst=batch, max_jobs=max_tasks, logging_level=level, with_scheduler=True)


class Command(DbWorkerCommand):
    help = "Run the background worker: queued jobs and the periodic ones (outbox sweep)."

    def add_arguments(self, parser: Any) -> None:
        if _is_rq():
            parser.add_argument(
                "--queue-name",
                default="default",
                help="Queues to work on, comma separated, '*' for all (default: %(default)r)",
            )
            parser.add_argument(
                "--batch",
                action="store_true",
                help="Enqueue the due periodic jobs, run every outstanding job, then exit.",
            )
            parser.add_argument(
                "--max-tasks", type=int, default=None, help="Exit after this many jobs."
            )
            parser.add_argument(
                "--worker-id", default=None, help="RQ worker name (default: generated)."
            )
            parser.add_argument(
                "--reload", action=BooleanOptionalAction, default=False, help="No effect on RQ."
            )
            parser.add_argument(
                "--no-startup-delay",
                action="store_false",
                dest="startup_delay",
                help="No effect on RQ.",
            )
        else:
            super().add_arguments(parser)
        parser.add_argument(
            "--no-scheduler",
            action="store_false",
            dest="scheduler",
            help="Do not enqueue periodic jobs from this worker.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not _is_rq():
            self._work(*args, **options)
            return
        from redis.exceptions import ConnectionError as RedisConnectionError

        try:
            self._work(*args, **options)
        except RedisConnectionError as exc:
            raise CommandError(f"Redis at TASKS_REDIS_URL is not reachable: {exc}") from exc

    def _work(self, *args: Any, scheduler: bool = True, **options: Any) -> None:
        if scheduler and options.get("batch"):
            enqueue_due()
        elif scheduler:
            stop = threading.Event()
            thread = threading.Thread(
                target=_schedule_forever, args=(stop,), name="scheduler", daemon=True
            )
            thread.start()
            time.sleep(0)  # let it take its first look
        if _is_rq():
            _run_rq(
                queue_name=options["queue_name"],
                batch=options["batch"],
                max_tasks=options["max_tasks"],
                worker_id=options["worker_id"],
                verbosity=options["verbosity"],
            )
        else:
            super().handle(*args, **options)
