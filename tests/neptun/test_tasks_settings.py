"""``TASKS_BACKEND`` picks the queue of background jobs: the database by default, RQ on
Redis with ``rq`` (and a Redis URL), nothing unknown."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent.parent
PROBE = (
    "import django, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'neptun.settings.base'; "
    "django.setup(); from django.conf import settings; from django.tasks import task_backends; "
    "print(type(task_backends['default']).__name__, 'django_rq' in settings.INSTALLED_APPS, "
    "getattr(settings, 'RQ_QUEUES', {}).get('default', {}).get('URL'))"
)
VARIABLES = {"TASKS_BACKEND", "TASKS_REDIS_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE"}


def probe(**env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in VARIABLES}
    return subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=REPO,
        env={**clean, "DEBUG": "1", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_database_backend_is_the_default():
    result = probe()
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["DatabaseBackend", "False", "None"]


def test_rq_puts_the_queue_on_redis():
    result = probe(TASKS_BACKEND="rq", REDIS_URL="redis://127.0.0.1:6379/3")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["RQBackend", "True", "redis://127.0.0.1:6379/3"]


def test_the_queue_can_have_its_own_redis():
    result = probe(
        TASKS_BACKEND="rq",
        REDIS_URL="redis://127.0.0.1:6379/3",
        TASKS_REDIS_URL="redis://127.0.0.1:6379/4",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-1] == "redis://127.0.0.1:6379/4"


def test_rq_without_redis_refuses_to_start():
    result = probe(TASKS_BACKEND="rq")
    assert result.returncode != 0
    assert "TASKS_BACKEND=rq needs REDIS_URL" in result.stderr


def test_an_unknown_backend_refuses_to_start():
    result = probe(TASKS_BACKEND="celery")
    assert result.returncode != 0
    assert "TASKS_BACKEND must be one of database, rq or a dotted path" in result.stderr
