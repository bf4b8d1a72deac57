"""The deletions the benchmark compares, as functions of JSON parameters.

Each path is deleted three ways on identical data:

- ``neptun``: the deletion service (``chats.services``) called directly — used for
  the admin path and whenever a path's HTTP endpoint is not there; paths 1-3 are
  normally measured through their real HTTP endpoints instead;
- ``raw``: SQL ``DELETE`` statements that rely on the database's ``ON DELETE``
  rules — the limit. Blobs of the deleted file rows (``DELETE … RETURNING blob``)
  are removed too, so the work done is the same;
- ``stock``: the stock-Django mirror (``bench.stock``), deleted with
  ``QuerySet.delete()`` — Django's collector emulates the cascades and the
  ``post_delete`` receiver removes each blob.

The server runs them behind ``/__bench__/run``; the smoke test calls them in-process.
"""

from __future__ import annotations

from typing import Any

from django.core.files.storage import default_storage
from django.db import connection, transaction

from bench.data import table


def run(op: str, path: str, params: dict[str, Any]) -> dict[str, Any]:
    return OPS[op][path](**params)


# ---------------------------------------------------------------------- Neptun service


def _ctx(interface: str, endpoint: str):
    from chats.services import DeletionContext

    return DeletionContext(actor=None, interface=interface, endpoint=endpoint)


def neptun_p1(*, chat_id: int, **_: Any) -> dict[str, Any]:
    from chats.models import Chat
    from chats.services import chat_delete

    chat = Chat.objects.get(pk=chat_id)
    return chat_delete(chat=chat, ctx=_ctx("api", "bench p1"), refuse_if_connected=True).as_dict()


def neptun_p2(*, owner_id: int, project_id: int, chat_ids: list[int], **_: Any) -> dict[str, Any]:
    from chats.services import project_chats_delete
    from neptun.models import User

    owner = User.objects.get(pk=owner_id)
    return project_chats_delete(
        owner=owner, project_id=project_id, chat_ids=chat_ids, ctx=_ctx("api", "bench p2")
    ).as_dict()


def neptun_p3(*, owner_id: int, **_: Any) -> dict[str, Any]:
    from chats.services import ConversationFlags, conversations_delete
    from neptun.models import User

    user = User.objects.get(pk=owner_id)
    return conversations_delete(
        user=user, flags=ConversationFlags(), ctx=_ctx("api", "bench p3")
    ).as_dict()


def neptun_p4_confirm(*, owner_id: int, **_: Any) -> dict[str, Any]:
    """What Neptun's admin confirmation page computes: counts by kind."""
    from chats.models import Chat
    from chats.services import chats_delete_preview

    return chats_delete_preview(chats=Chat.objects.filter(owner_id=owner_id)).as_dict()


def neptun_p4(*, owner_id: int, **_: Any) -> dict[str, Any]:
    """The admin action on 10,000 selected chats (select-across with a filter)."""
    from chats.models import Chat
    from chats.services import chats_delete

    return chats_delete(
        chats=Chat.objects.filter(owner_id=owner_id), ctx=_ctx("admin", "bench p4")
    ).as_dict()


ORPHAN_KINDS = ("stale-connections", "empty-collections")


def neptun_p5(**_: Any) -> dict[str, Any]:
    """``manage.py cleanup_orphans --yes`` for the two kinds, run in this process.

    ``call_command`` runs the command as an operator's shell would (argument
    parsing, the sweep, the JSON report) without the interpreter's and Django's
    start-up, which raw SQL and stock Django do not pay either.
    """
    import io
    import json

    from django.core.management import call_command

    out = io.StringIO()
    args = ["--yes", "--json", "--no-progress"]
    for kind in ORPHAN_KINDS:
        args += ["--only", kind]
    call_command("cleanup_orphans", *args, stdout=out)
    report = json.loads(out.getvalue())
    return {kind: data.get("removed") for kind, data in report.get("kinds", {}).items()}


def _orphan_cutoff():
    from datetime import timedelta

    from django.utils import timezone

    return timezone.now() - timedelta(hours=24)


# ---------------------------------------------------------------------- raw SQL


def _in(ids: list[int]) -> str:
    return ", ".join(["%s"] * len(ids))


def _remove(names: list[str]) -> int:
    for name in names:
        default_storage.delete(name)
    return len(names)


def _delete_returning_blobs(cursor, sql: str, params: list[Any]) -> list[str]:
    cursor.execute(sql, params)
    return [name for (name,) in cursor.fetchall() if name]


def raw_p1(*, chat_id: int, schema: str = "neptun", **_: Any) -> dict[str, Any]:
    f, c = table(schema, "file"), table(schema, "chat")
    with transaction.atomic(), connection.cursor() as cursor:
        blobs = _delete_returning_blobs(
            cursor,
            f"DELETE FROM {f} WHERE chat_id = %s AND collection_id IS NULL RETURNING blob",  # noqa: S608
            [chat_id],
        )
        cursor.execute(f"DELETE FROM {c} WHERE id = %s", [chat_id])  # noqa: S608
        chats = cursor.rowcount
    return {"chats": chats, "blobs": _remove(blobs)}


def raw_p2(
    *, owner_id: int, project_id: int, chat_ids: list[int], schema: str = "neptun", **_: Any
) -> dict[str, Any]:
    f, c, link = table(schema, "file"), table(schema, "chat"), table(schema, "link")
    selected = (
        f"SELECT id FROM {c} WHERE owner_id = %s AND id IN ({_in(chat_ids)}) "  # noqa: S608
        f"AND id IN (SELECT chat_id FROM {link} WHERE project_id = %s)"
    )
    params = [owner_id, *chat_ids, project_id]
    with transaction.atomic(), connection.cursor() as cursor:
        blobs = _delete_returning_blobs(
            cursor,
            f"DELETE FROM {f} WHERE collection_id IS NULL AND chat_id IN ({selected}) "  # noqa: S608
            "RETURNING blob",
            params,
        )
        cursor.execute(f"DELETE FROM {c} WHERE id IN ({selected})", params)  # noqa: S608
        chats = cursor.rowcount
    return {"chats": chats, "blobs": _remove(blobs)}


def _doomed_collections(cursor: Any, schema: str, owner_id: int) -> list[int]:
    """The user's own collections that only their chats link to (p3 deletes them)."""
    c, k = table(schema, "chat"), table(schema, "collection")
    cursor.execute(
        f"SELECT k.id FROM {k} k WHERE k.owner_id = %s AND NOT k.is_global "  # noqa: S608
        f"AND k.id IN (SELECT collection_id FROM {c} WHERE owner_id = %s) "
        f"AND NOT EXISTS (SELECT 1 FROM {c} c2 WHERE c2.collection_id = k.id "
        "AND c2.owner_id <> %s)",
        [owner_id, owner_id, owner_id],
    )
    return [row[0] for row in cursor.fetchall()]


def raw_p3(*, owner_id: int, schema: str = "neptun", **_: Any) -> dict[str, Any]:
    """All conversations of a user, with files and the collections only they link to."""
    f, c, k = table(schema, "file"), table(schema, "chat"), table(schema, "collection")
    with transaction.atomic(), connection.cursor() as cursor:
        doomed = _doomed_collections(cursor, schema, owner_id)
        blobs = _delete_returning_blobs(
            cursor,
            f"DELETE FROM {f} WHERE collection_id IS NULL "  # noqa: S608
            f"AND chat_id IN (SELECT id FROM {c} WHERE owner_id = %s) RETURNING blob",
            [owner_id],
        )
        if doomed:
            blobs += _delete_returning_blobs(
                cursor,
                f"DELETE FROM {f} WHERE collection_id IN ({_in(doomed)}) RETURNING blob",  # noqa: S608
                doomed,
            )
        cursor.execute(f"DELETE FROM {c} WHERE owner_id = %s", [owner_id])  # noqa: S608
        chats = cursor.rowcount
        if doomed:
            cursor.execute(f"DELETE FROM {k} WHERE id IN ({_in(doomed)})", doomed)  # noqa: S608
    return {"chats": chats, "collections": len(doomed), "blobs": _remove(blobs)}


def raw_p4_confirm(*, owner_id: int, schema: str = "neptun", **_: Any) -> dict[str, Any]:
    c, m, f, link = (table(schema, kind) for kind in ("chat", "message", "file", "link"))
    chats = f"SELECT id FROM {c} WHERE owner_id = %s"  # noqa: S608
    queries = {
        "chats": f"SELECT COUNT(*) FROM {c} WHERE owner_id = %s",  # noqa: S608
        "messages": f"SELECT COUNT(*) FROM {m} WHERE chat_id IN ({chats})",  # noqa: S608
        "links": f"SELECT COUNT(*) FROM {link} WHERE chat_id IN ({chats})",  # noqa: S608
        "files": (
            f"SELECT COUNT(*) FROM {f} WHERE collection_id IS NULL "  # noqa: S608
            f"AND chat_id IN ({chats})"
        ),
    }
    counts = {}
    with connection.cursor() as cursor:
        for kind, sql in queries.items():
            cursor.execute(sql, [owner_id])
            counts[kind] = cursor.fetchone()[0]
    return counts


def raw_p4(*, owner_id: int, schema: str = "neptun", **_: Any) -> dict[str, Any]:
    f, c = table(schema, "file"), table(schema, "chat")
    with transaction.atomic(), connection.cursor() as cursor:
        blobs = _delete_returning_blobs(
            cursor,
            f"DELETE FROM {f} WHERE collection_id IS NULL "  # noqa: S608
            f"AND chat_id IN (SELECT id FROM {c} WHERE owner_id = %s) RETURNING blob",
            [owner_id],
        )
        cursor.execute(f"DELETE FROM {c} WHERE owner_id = %s", [owner_id])  # noqa: S608
        chats = cursor.rowcount
    return {"chats": chats, "blobs": _remove(blobs)}


def raw_p5(*, schema: str = "neptun", **_: Any) -> dict[str, Any]:
    conn, k, f, c = (table(schema, kind) for kind in ("connection", "collection", "file", "chat"))
    cutoff = _orphan_cutoff()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {conn} WHERE last_seen_at < %s", [cutoff])  # noqa: S608
        connections = cursor.rowcount
        cursor.execute(
            f"DELETE FROM {k} WHERE NOT is_global AND created_at < %s "  # noqa: S608
            f"AND NOT EXISTS (SELECT 1 FROM {f} WHERE {f}.collection_id = {k}.id) "
            f"AND NOT EXISTS (SELECT 1 FROM {c} WHERE {c}.collection_id = {k}.id)",
            [cutoff],
        )
        collections = cursor.rowcount
    return {"stale-connections": connections, "empty-collections": collections}


# ---------------------------------------------------------------------- stock Django


def stock_p1(*, chat_id: int, **_: Any) -> dict[str, Any]:
    from bench.stock.models import StockChat, StockFile

    with transaction.atomic():
        files = StockFile.objects.filter(chat_id=chat_id, collection__isnull=True).delete()[0]
        _, by_model = StockChat.objects.filter(pk=chat_id).delete()
    return {"files": files, "deleted": by_model}


def stock_p2(*, owner_id: int, project_id: int, chat_ids: list[int], **_: Any) -> dict[str, Any]:
    from bench.stock.models import StockChat, StockFile

    with transaction.atomic():
        chats = StockChat.objects.filter(
            id__in=chat_ids, owner_id=owner_id, project_links__project_id=project_id
        )
        files = StockFile.objects.filter(chat__in=chats, collection__isnull=True).delete()[0]
        _, by_model = chats.delete()
    return {"files": files, "deleted": by_model}


def stock_p3(*, owner_id: int, **_: Any) -> dict[str, Any]:
    from django.db.models import Q

    from bench.stock.models import StockChat, StockCollection, StockFile

    with transaction.atomic():
        survivors = StockChat.objects.exclude(owner_id=owner_id).filter(collection__isnull=False)
        doomed = list(
            StockCollection.objects.filter(
                owner_id=owner_id,
                is_global=False,
                id__in=StockChat.objects.filter(owner_id=owner_id).values("collection_id"),
            )
            .exclude(id__in=survivors.values("collection_id"))
            .values_list("id", flat=True)
        )
        files = StockFile.objects.filter(
            Q(chat__owner_id=owner_id, collection__isnull=True) | Q(collection_id__in=doomed)
        ).delete()[0]
        _, by_model = StockChat.objects.filter(owner_id=owner_id).delete()
        collections = StockCollection.objects.filter(id__in=doomed).delete()[0]
    return {"files": files, "collections": collections, "deleted": by_model}


def _stock_admin_objects(owner_id: int) -> int:
    """What Django's stock ``delete_selected`` confirmation builds: every related
    object, nested and formatted (``get_deleted_objects``) and rendered as the
    template does (``unordered_list``)."""
    from django.contrib.admin import AdminSite
    from django.contrib.admin.utils import get_deleted_objects
    from django.template.defaultfilters import unordered_list

    from bench.stock.models import StockChat

    site = AdminSite(name="bench-stock")
    to_delete, _model_count, _perms, _protected = get_deleted_objects(
        StockChat.objects.filter(owner_id=owner_id), None, site
    )
    html = unordered_list(to_delete)
    return len(html)


def stock_p4_confirm(*, owner_id: int, **_: Any) -> dict[str, Any]:
    return {"html_chars": _stock_admin_objects(owner_id)}


def stock_p4(*, owner_id: int, **_: Any) -> dict[str, Any]:
    """Django's ``delete_selected`` on POST: it collects the objects again (for the
    permission check), then ``delete_queryset`` → ``QuerySet.delete()``."""
    from bench.stock.models import StockChat, StockFile

    _stock_admin_objects(owner_id)
    with transaction.atomic():
        files = StockFile.objects.filter(chat__owner_id=owner_id, collection__isnull=True).delete()[
            0
        ]
        _, by_model = StockChat.objects.filter(owner_id=owner_id).delete()
    return {"files": files, "deleted": by_model}


def stock_p5(**_: Any) -> dict[str, Any]:
    from bench.stock.models import StockChatConnection, StockCollection, StockFile

    cutoff = _orphan_cutoff()
    with transaction.atomic():
        connections = StockChatConnection.objects.filter(last_seen_at__lt=cutoff).delete()[0]
        collections = (
            StockCollection.objects.filter(is_global=False, created_at__lt=cutoff)
            .exclude(id__in=StockFile.objects.filter(collection__isnull=False).values("collection"))
            .exclude(chats__isnull=False)
            .delete()[0]
        )
    return {"stale-connections": connections, "empty-collections": collections}


OPS = {
    "neptun": {
        "p1": neptun_p1,
        "p2": neptun_p2,
        "p3": neptun_p3,
        "p4-confirm": neptun_p4_confirm,
        "p4": neptun_p4,
        "p5": neptun_p5,
    },
    "raw": {
        "p1": raw_p1,
        "p2": raw_p2,
        "p3": raw_p3,
        "p4-confirm": raw_p4_confirm,
        "p4": raw_p4,
        "p5": raw_p5,
    },
    "stock": {
        "p1": stock_p1,
        "p2": stock_p2,
        "p3": stock_p3,
        "p4-confirm": stock_p4_confirm,
        "p4": stock_p4,
        "p5": stock_p5,
    },
}
