"""bin/serve and bin/test on a PostgreSQL database that does not exist yet.

``bin/_ensure_db.py`` runs before Django touches the database: it creates a missing
database, and when the server cannot be reached it says so in one line (exit 1),
never with a traceback. The last test is what a new user does: clone, then
``DATABASE_URL=postgres://…/a-new-name bin/serve``.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psycopg
import pytest
import requests
from django.db import connection

from tests.servers import HOST, REPO, STARTUP_TIMEOUT, free_port

HELPER = REPO / "bin" / "_ensure_db.py"


def _env(database_url: str, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DJANGO_SETTINGS_MODULE", "PYTEST_CURRENT_TEST", "REDIS_URL"}
    }
    env.update(DATABASE_URL=database_url, **extra)
    return env


def _server_url(name: str) -> str:
    s = connection.settings_dict
    auth = s["USER"] or ""
    if s["PASSWORD"]:
        auth += ":" + s["PASSWORD"]
    return f"postgres://{auth}@{s['HOST'] or HOST}:{s['PORT'] or 5432}/{name}"


def _maintenance() -> psycopg.Connection:
    s = connection.settings_dict
    return psycopg.connect(
        host=s["HOST"] or HOST,
        port=s["PORT"] or 5432,
        user=s["USER"] or None,
        password=s["PASSWORD"] or None,
        dbname="postgres",
        autocommit=True,
    )


def _exists(name: str) -> bool:
    with _maintenance() as conn:
        return (
            conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
            is not None
        )


@pytest.fixture
def fresh_name():
    """A database name nobody has used; the database is dropped afterwards."""
    name = f"neptun_fresh_{uuid.uuid4().hex[:12]}"
    assert not _exists(name)
    yield name
    with _maintenance() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _run_helper(database_url: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(cwd / "bin" / "_ensure_db.py")],
        cwd=cwd,
        env=_env(database_url),
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.postgres
def test_a_missing_database_is_created(fresh_name):
    done = _run_helper(_server_url(fresh_name))

    assert done.returncode == 0, done.stderr
    assert _exists(fresh_name)
    assert "Traceback" not in done.stdout + done.stderr
    assert done.stdout.strip() == f'neptun: created PostgreSQL database "{fresh_name}" on ' + (
        f"{connection.settings_dict['HOST'] or HOST}:{connection.settings_dict['PORT'] or 5432}"
    )

    again = _run_helper(_server_url(fresh_name))  # it exists now: nothing to say
    assert (again.returncode, again.stdout, again.stderr) == (0, "", "")


def test_an_unreachable_server_is_one_line_and_exit_1():
    port = free_port()  # nothing listens there
    done = _run_helper(f"postgres://postgres@{HOST}:{port}/neptun")

    assert done.returncode == 1
    assert done.stdout == ""
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert f"cannot reach PostgreSQL at {HOST}:{port}" in lines[0]
    assert "start it" in lines[0]


def test_sqlite_needs_nothing(tmp_path):
    done = _run_helper(f"sqlite:///{tmp_path / 'db.sqlite3'}")

    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


def _venv_stamp_matches(clone: Path) -> bool:
    """bin/_venv.sh would reinstall into our virtualenv unless its stamp matches."""
    cksum = subprocess.run(
        ["cksum"], stdin=(clone / "pyproject.toml").open("rb"), capture_output=True, check=True
    )
    return (Path(sys.prefix) / f".installed-{cksum.stdout.split()[0].decode()}").is_file()


@pytest.mark.postgres
@pytest.mark.slow
def test_fresh_clone_bin_serve_on_a_new_postgres_database(tmp_path, fresh_name):
    """A fresh clone, then ``DATABASE_URL=…/<new name> bin/serve``: the database is
    created, migrated and seeded, and the server answers (this virtualenv is reused)."""
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("needs git and a git checkout")
    clone = tmp_path / "neptun"
    subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True, timeout=60)
    if not _venv_stamp_matches(clone):
        pytest.skip("this virtualenv was not made by bin/_venv.sh for this pyproject.toml")
    (clone / ".venv").symlink_to(sys.prefix, target_is_directory=True)

    port = free_port()
    log_path = tmp_path / "serve.log"
    env = _env(_server_url(fresh_name), MEDIA_ROOT=str(tmp_path / "media"), LOG_LEVEL="WARNING")
    env.pop("DEBUG", None)
    env.pop("SECRET_KEY", None)
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            ["bin/serve", f"{HOST}:{port}"],
            cwd=clone,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # runserver's autoreloader has a child: stop the group
        )
        try:
            status = None
            for _ in range(STARTUP_TIMEOUT * 5 * 3):  # migrating takes a while
                if process.poll() is not None:
                    break
                try:
                    status = requests.get(f"http://{HOST}:{port}/healthz", timeout=1).status_code
                    break
                except requests.RequestException:
                    time.sleep(0.2)
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
    output = log_path.read_text(errors="replace")
    assert status == 200, output
    assert "Traceback" not in output
    assert f'created PostgreSQL database "{fresh_name}"' in output
    assert "Demo data is ready." in output
    assert _exists(fresh_name)
