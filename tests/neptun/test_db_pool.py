"""The PostgreSQL connection pool (``DB_POOL``): on by default, off on request, and a
forked child (an RQ job) never uses its parent's pooled connections."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

REPO = Path(__file__).resolve().parent.parent.parent

POOL_PROBE = (
    "import django, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'neptun.settings.base'; "
    "django.setup(); from django.conf import settings; "
    "print(bool(settings.DATABASES['default'].get('OPTIONS', {}).get('pool')))"
)


@pytest.mark.parametrize(
    ("env", "pooled"),
    [
        ({"DATABASE_URL": "postgres://postgres@127.0.0.1:5432/neptun"}, "True"),
        ({"DATABASE_URL": "postgres://postgres@127.0.0.1:5432/neptun", "DB_POOL": "0"}, "False"),
        ({"DATABASE_URL": "sqlite:////tmp/neptun-pool-probe.sqlite3"}, "False"),
    ],
)
def test_pool_is_on_for_postgresql_unless_turned_off(env, pooled):
    clean = {k: v for k, v in os.environ.items() if k not in {"DB_POOL", "DATABASE_URL"}}
    result = subprocess.run(
        [sys.executable, "-c", POOL_PROBE],
        cwd=REPO,
        env={**clean, **env, "DEBUG": "1"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == pooled


def _backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return int(cursor.fetchone()[0])


@pytest.mark.postgres
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded")
@pytest.mark.django_db(transaction=True)
def test_a_forked_child_opens_its_own_connection():
    if not connection.pool:
        pytest.skip("DB_POOL is off")
    parent = _backend_pid()
    connection.close()  # back to the pool, idle: the one a careless child would take
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child reports through the pipe
        status = 1
        try:
            os.write(write, str(_backend_pid()).encode())
            status = 0
        finally:
            os._exit(status)
    os.close(write)
    with os.fdopen(read) as pipe:
        child_pid = int(pipe.read() or 0)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert child_pid and child_pid != parent
    assert _backend_pid() > 0  # the parent's pooled connections still work
