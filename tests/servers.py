"""Real server processes for tests that need more than one process (PostgreSQL only).

Each server runs on a free loopback port, against the pytest test database (the
test's data must be committed: ``transactional_db``), and is stopped in any case.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import pytest
import requests
from django.db import connection

REPO = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
STARTUP_TIMEOUT = 40


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def database_url() -> str:
    """The pytest-django test database, as a URL for the server processes."""
    s = connection.settings_dict
    auth = quote(s["USER"] or "", safe="")
    if s["PASSWORD"]:
        auth += ":" + quote(s["PASSWORD"], safe="")
    return f"postgres://{auth}@{s['HOST'] or HOST}:{s['PORT'] or 5432}/{s['NAME']}"


def server_env(**extra: str) -> dict[str, str]:
    """This process's environment for a server: base settings, the test database,
    no Redis unless ``extra`` names one."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"REDIS_URL", "DJANGO_SETTINGS_MODULE", "PYTEST_CURRENT_TEST"}
    }
    env.update(
        DJANGO_SETTINGS_MODULE="neptun.settings.base",
        DEBUG="1",
        DATABASE_URL=database_url(),
        LOG_LEVEL="WARNING",
    )
    env.update(extra)
    return env


def daphne(port: int) -> list[str]:
    return [sys.executable, "-m", "daphne", "-b", HOST, "-p", str(port), "neptun.asgi:application"]


def uvicorn(port: int) -> list[str]:
    return [sys.executable, "-m", "uvicorn", "neptun.asgi:application", "--host", HOST,
            "--port", str(port), "--ws", "websockets", "--no-access-log"]  # fmt: skip


def output(log) -> str:
    log.seek(0)
    return log.read().decode(errors="replace")[-4000:]


@contextmanager
def serve(
    command: Callable[[int], list[str]], env: dict[str, str], *, kill: bool = False
) -> Iterator[tuple[str, subprocess.Popen]]:
    """Start ``command(port)``, wait until ``/healthz`` answers, yield ``host:port``
    and the process; terminate it afterwards (``kill``: SIGKILL at once)."""
    port = free_port()
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            command(port), cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            deadline = time.monotonic() + STARTUP_TIMEOUT
            while True:
                if process.poll() is not None:
                    pytest.fail(f"server exited with {process.returncode}:\n{output(log)}")
                try:
                    requests.get(f"http://{HOST}:{port}/healthz", timeout=1)
                    break
                except requests.RequestException:
                    if time.monotonic() > deadline:
                        pytest.fail(f"server not ready in {STARTUP_TIMEOUT}s:\n{output(log)}")
                    time.sleep(0.2)
            yield f"{HOST}:{port}", process
        finally:
            if process.poll() is None:
                if kill:
                    process.kill()
                else:
                    process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
