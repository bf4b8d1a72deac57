"""Make sure the PostgreSQL database that DATABASE_URL names exists (bin/serve, bin/test).

Run before Django touches the database. With SQLite (no DATABASE_URL, or a sqlite://
one) there is nothing to do. With PostgreSQL:

- the database answers: nothing to do;
- it does not exist: create it (connecting to the ``postgres`` maintenance database
  as the same user) and say so in one line;
- the server cannot be reached, refuses the login, or the user may not create
  databases: one line on stderr saying what to do, exit status 1 — never a traceback.

Reads DATABASE_URL from the environment, or from the repository's ``.env`` as the
settings do.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _database_url() -> str:
    if "DATABASE_URL" not in os.environ and (REPO / ".env").is_file():
        import environ

        environ.Env.read_env(REPO / ".env")  # fills only what the environment lacks
    return os.environ.get("DATABASE_URL", "")


def _reason(exc: BaseException) -> str:
    """The server's or libpq's reason, without the "connection to server at …" preamble."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    if not lines:
        return type(exc).__name__
    first = lines[0].rsplit(" failed: ", 1)[-1].removeprefix("FATAL:").strip()
    return first or lines[0]


def fail(message: str) -> int:
    print(f"neptun: {message}", file=sys.stderr)
    return 1


def main() -> int:
    url = _database_url()
    if not url:
        return 0
    import environ

    try:
        config = environ.Env.db_url_config(url)
    except Exception as exc:  # a malformed URL is the user's to fix
        return fail(f"DATABASE_URL is not a valid database URL ({_reason(exc)})")
    if not config.get("ENGINE", "").endswith("postgresql"):
        return 0

    import psycopg
    from psycopg import errors, sql

    name = config.get("NAME") or ""
    host = config.get("HOST") or ""  # empty: libpq's default, the local socket
    port = config.get("PORT") or 5432
    user = config.get("USER") or ""
    params = {
        "host": host or None,
        "port": port,
        "user": user or None,
        "password": config.get("PASSWORD") or None,
        "connect_timeout": 5,
        **{k: v for k, v in (config.get("OPTIONS") or {}).items() if isinstance(v, str | int)},
    }
    where = f"{host}:{port}" if host else f"the local socket (port {port})"
    try:
        psycopg.connect(dbname=name, **params).close()
        return 0
    except psycopg.OperationalError as exc:
        # libpq reports a missing database as a connection failure (no SQLSTATE).
        if f'database "{name}" does not exist' not in str(exc):
            return _unreachable(exc, where, user)

    try:
        with psycopg.connect(dbname="postgres", autocommit=True, **params) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    except errors.DuplicateDatabase:
        return 0  # created meanwhile by someone else
    except errors.InsufficientPrivilege:
        return fail(
            f'PostgreSQL database "{name}" does not exist and user "{user}" may not create '
            f"it: run `createdb{f' -h {host}' if host else ''} -p {port} {name}` as a user who may"
        )
    except psycopg.Error as exc:
        return fail(
            f'PostgreSQL database "{name}" does not exist and could not be created '
            f"({_reason(exc)}): run `createdb{f' -h {host}' if host else ''} -p {port} {name}`"
        )
    print(f'neptun: created PostgreSQL database "{name}" on {where}')
    return 0


def _unreachable(exc: BaseException, where: str, user: str) -> int:
    text = str(exc)
    if "password authentication failed" in text or "no password supplied" in text:
        return fail(f'PostgreSQL at {where} refused the login of "{user}": check DATABASE_URL')
    if "role" in text and "does not exist" in text:
        return fail(f'PostgreSQL at {where} has no user "{user}": check DATABASE_URL')
    return fail(
        f"cannot reach PostgreSQL at {where} ({_reason(exc)}): start it "
        "(e.g. `pg_ctlcluster 15 main start`) or point DATABASE_URL at a running server"
    )


if __name__ == "__main__":
    sys.exit(main())
