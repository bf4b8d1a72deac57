"""``manage.py worker``: the background worker — django-tasks-db's ``db_worker`` with
Neptun's scheduler of periodic jobs beside it.

It takes ``db_worker``'s options (``--batch``, ``--queue-name``, ``--max-tasks``, …).
A scheduler thread enqueues the periodic jobs of :mod:`chats.deletion.schedule` as
they come due (once per period across all workers); ``--no-scheduler`` leaves that
to other workers. With ``--batch`` the due jobs are enqueued once, then every
outstanding task runs and the worker exits (handy in cron and in tests).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from django.db import close_old_connections
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


class Command(DbWorkerCommand):
    help = "Run the background worker: queued jobs and the periodic ones (outbox sweep)."

    def add_arguments(self, parser: Any) -> None:
        super().add_arguments(parser)
        parser.add_argument(
            "--no-scheduler",
            action="store_false",
            dest="scheduler",
            help="Do not enqueue periodic jobs from this worker.",
        )

    def handle(self, *args: Any, scheduler: bool = True, **options: Any) -> None:  # type: ignore[override]
        if scheduler and options.get("batch"):
            enqueue_due()
        elif scheduler:
            stop = threading.Event()
            thread = threading.Thread(
                target=_schedule_forever, args=(stop,), name="scheduler", daemon=True
            )
            thread.start()
            time.sleep(0)  # let it take its first look
        super().handle(*args, **options)
