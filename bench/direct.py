"""The ``direct`` method of issue 16: the smallest cost any implementation could have.

``raw`` runs its SQL through the same HTTP server as Neptun, so it pays HTTP, the
middleware and a fresh database connection too, and ``neptun/raw`` hides what a user
pays for them. ``direct`` sends the minimal SQL of each path from the harness's own,
warm database connection, in one transaction, with nothing in between, and is timed
around that transaction (and the blob removals after it, which every other method
pays as well).

Each path has two minimal forms, and the harness reports the faster:

- ``cascade``: the chats' own files (``DELETE … RETURNING blob``), then the chats,
  the database's ``ON DELETE CASCADE`` taking the messages, links and socket records.
  These are the statements of ``raw`` (:mod:`bench.ops`), so they are reused;
- ``explicit``: every child table deleted by chat id first (messages, socket records,
  project links, own files), then the chats, whose cascade triggers then find
  nothing to do.

p4's confirmation page and p5's orphan sweep have no children to delete, so they
have one form (the cascade one, i.e. raw's statements); for p4-confirm the cascade
run's figure is reported.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from django.db import connection, transaction

from bench import ops
from bench.data import table

FORMS = ("cascade", "explicit")


def _explicit_chats(cursor, schema: str, where: str, params: list[Any]) -> tuple[int, list[str]]:
    """Delete the children of the chats ``WHERE {where}``, then the chats.

    ``where`` must not depend on the child tables (p2 selects its ids first).
    """
    c = table(schema, "chat")
    chats = f"SELECT id FROM {c} WHERE {where}"  # noqa: S608
    for kind in ("message", "connection", "link"):
        cursor.execute(f"DELETE FROM {table(schema, kind)} WHERE chat_id IN ({chats})", params)  # noqa: S608
    blobs = ops._delete_returning_blobs(
        cursor,
        f"DELETE FROM {table(schema, 'file')} WHERE collection_id IS NULL "  # noqa: S608
        f"AND chat_id IN ({chats}) RETURNING blob",
        params,
    )
    cursor.execute(f"DELETE FROM {c} WHERE {where}", params)  # noqa: S608
    return cursor.rowcount, blobs


def explicit_p1(*, chat_id: int, schema: str = "neptun", **_: Any) -> dict[str, Any]:
    with transaction.atomic(), connection.cursor() as cursor:
        chats, blobs = _explicit_chats(cursor, schema, "id = %s", [chat_id])
    return {"chats": chats, "blobs": ops._remove(blobs)}


def explicit_p2(
    *, owner_id: int, project_id: int, chat_ids: list[int], schema: str = "neptun", **_: Any
) -> dict[str, Any]:
    c, link = table(schema, "chat"), table(schema, "link")
    with transaction.atomic(), connection.cursor() as cursor:
        # The selection goes through the links, which are deleted first: fix it.
        cursor.execute(
            f"SELECT id FROM {c} WHERE owner_id = %s AND id IN ({ops._in(chat_ids)}) "  # noqa: S608
            f"AND id IN (SELECT chat_id FROM {link} WHERE project_id = %s)",
            [owner_id, *chat_ids, project_id],
        )
        ids = [row[0] for row in cursor.fetchall()]
        if not ids:
            return {"chats": 0, "blobs": 0}
        chats, blobs = _explicit_chats(cursor, schema, f"id IN ({ops._in(ids)})", ids)
    return {"chats": chats, "blobs": ops._remove(blobs)}


def explicit_p3(*, owner_id: int, schema: str = "neptun", **_: Any) -> dict[str, Any]:
    """As ``raw_p3``, with the chats' children deleted before the chats."""
    f, k = table(schema, "file"), table(schema, "collection")
    with transaction.atomic(), connection.cursor() as cursor:
        doomed = ops._doomed_collections(cursor, schema, owner_id)
        chats, blobs = _explicit_chats(cursor, schema, "owner_id = %s", [owner_id])
        if doomed:
            blobs += ops._delete_returning_blobs(
                cursor,
                f"DELETE FROM {f} WHERE collection_id IN ({ops._in(doomed)}) RETURNING blob",  # noqa: S608
                doomed,
            )
            cursor.execute(f"DELETE FROM {k} WHERE id IN ({ops._in(doomed)})", doomed)  # noqa: S608
    return {"chats": chats, "collections": len(doomed), "blobs": ops._remove(blobs)}


def explicit_p4(*, owner_id: int, schema: str = "neptun", **_: Any) -> dict[str, Any]:
    with transaction.atomic(), connection.cursor() as cursor:
        chats, blobs = _explicit_chats(cursor, schema, "owner_id = %s", [owner_id])
    return {"chats": chats, "blobs": ops._remove(blobs)}


OPS: dict[str, dict[str, Callable[..., dict[str, Any]]]] = {
    "cascade": dict(ops.OPS["raw"]),
    "explicit": {
        "p1": explicit_p1,
        "p2": explicit_p2,
        "p3": explicit_p3,
        "p4": explicit_p4,
    },
}


def forms(step: str) -> tuple[str, ...]:
    """The forms that differ for a path or step (p4-confirm and p5: only the cascade one)."""
    return FORMS if step in OPS["explicit"] else ("cascade",)


def run(form: str, step: str, params: dict[str, Any]) -> tuple[float, dict[str, Any]]:
    """Run one step in this process; its wall time and figures shaped like the server's.

    A step with one form runs it under either name (p4's explicit run starts with
    the same confirmation counts as its cascade run).
    """
    counter = _Counter()
    with connection.execute_wrapper(counter):
        started = time.perf_counter()
        result = OPS[form if step in OPS[form] else "cascade"][step](**params)
        wall = time.perf_counter() - started
    return wall, {"queries": counter.n, "server_seconds": wall, "response": result}


class _Counter:
    def __init__(self) -> None:
        self.n = 0

    def __call__(self, execute, sql, params, many, context):
        self.n += 1
        return execute(sql, params, many, context)
