"""The deletion service: the one place where Neptun deletes data.

Every entry point — the three API dialects, the admin actions and the management
commands — translates its input into a call here and the result into its output.

How a deletion runs:

1. *Plan*: lock the chats to delete (``SELECT … FOR UPDATE`` in id order, so
   concurrent deletions of overlapping sets queue instead of deadlocking; the same
   statement tallies their conversation types) and work out which collections and
   files go with them. Only ids are read, never rows of messages. More than
   ``SMALL_SELECTION`` chats are staged in a temporary table instead of a list.
2. *Count* what goes by cascade — messages, project links, socket records — and
   the chats' own files, in one statement, while the chats are locked.
3. *Execute* set-based: the files first (their blob names are needed), then the
   chats, whose messages, links and socket records go by the database's
   ``ON DELETE CASCADE`` (``File.chat`` becomes NULL for a file that stays in a
   collection), then the collections.
4. *Record*: one ``DeletionRecord`` with the actor, interface and counts, and one
   outbox row per blob to remove (:mod:`chats.deletion.effects`), in the same
   transaction.
5. *After commit*: carry out the outbox — remove the blobs of the deleted file rows
   (a blob is never removed before its row's deletion commits; one still referenced
   by another row is kept) — and tell live WebSockets of the deleted chats to close.
   A blob that storage refuses to remove is reported in ``DeletionResult.errors``
   and on the record, and retried by the worker until done or given up.

Large purges (more than ``DELETION_BATCH_THRESHOLD`` messages by the count of
step 2, outside any caller's transaction) run in batches of chats, each its own
short transaction with PostgreSQL lock and statement timeouts; see "large
purges" below.

What goes with what:

- A chat: its messages, project links, live-connection records, and the files
  uploaded in it that belong to no collection. Collections stay; files in a
  collection only lose their chat link.
- With ``delete_files_and_collections`` (conversations endpoint): also the
  user-owned collections the chats link to, with their files — except a
  collection that a surviving chat still links to. Global collections and their
  files are never deleted this way.
- With ``keep_files`` (that flag set to false): no file is deleted; files only lose
  their chat link.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.core.exceptions import EmptyResultSet
from django.core.files.storage import default_storage
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.db.models.expressions import RawSQL

from chats.deletion import effects
from chats.models import Chat, ChatConnection, ConversationType, Message
from collections_app.models import Collection, File
from neptun.channel_events import send_to_groups
from neptun.exceptions import Conflict, NotFound
from neptun.models import AccessToken, ApiKey, DeletionRecord, Tenant, User
from projects.models import Project, ProjectChat

logger = logging.getLogger("neptun.deletion")

#: Conversation-type keys used in counts; ``None`` (NULL type) is reported as "null".
TYPE_KEYS: dict[str | None, str] = {
    ConversationType.REGULAR: "regular",
    ConversationType.USER_FILES: "user_files",
    ConversationType.GLOBAL_COLLECTION: "global_collection",
    None: "null",
}

COUNT_KINDS = ("chats", "messages", "files", "collections", "links", "connections", "projects")


def _chunk_size() -> int:
    return int(getattr(settings, "DELETION_CHUNK_SIZE", 5000))


def _chunks(ids: Sequence[int]) -> Iterator[Sequence[int]]:
    size = _chunk_size()
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


#: ``progress(done, total)`` is called after each committed batch of a large purge.
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class DeletionContext:
    """Who deletes, and through which door. Recorded on the DeletionRecord.

    ``record_id``: a record written beforehand (a background job's), which the
    deletion then fills instead of writing its own. ``progress``: told after each
    committed batch of a large purge, as the ``progress`` argument is.
    """

    actor: User | None
    interface: str
    endpoint: str = ""
    remote_addr: str | None = None
    record_id: int | None = None
    progress: Progress | None = None


@dataclass
class DeletionResult:
    """Counts by kind, chats by conversation type, and what could not be done."""

    counts: Counter[str] = field(default_factory=Counter)
    by_type: Counter[str] = field(default_factory=Counter)
    errors: list[dict[str, Any]] = field(default_factory=list)
    record_id: int | None = None
    #: When the deletion was recorded (its record's ``created_at``).
    deleted_at: datetime | None = None
    dry_run: bool = False
    batches: int = 1

    def as_dict(self) -> dict[str, Any]:
        counts = {kind: self.counts.get(kind, 0) for kind in (*COUNT_KINDS, "blobs")}
        for kind, n in self.counts.items():
            counts.setdefault(kind, n)
        return {
            "counts": counts,
            "by_type": {key: self.by_type.get(key, 0) for key in TYPE_KEYS.values()},
            "errors": list(self.errors),
            "dry_run": self.dry_run,
        }


class _Staged:
    """Selected chat ids held by the database in a per-connection temporary table.

    Every statement of a deletion refers to them as ``IN (SELECT id FROM …)``: the
    SQL stays the same size whatever the number of chats, and Python holds none of
    the ids (memory does not grow with the selection).
    """

    def __init__(self, table: str, count: int) -> None:
        self.table = table
        self.count = count

    def __len__(self) -> int:
        return self.count

    def subquery(self) -> RawSQL:
        return RawSQL(f"SELECT id FROM {self.table}", ())  # noqa: S608, S611 - fixed name

    def ids(self) -> list[int]:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT id FROM {self.table} ORDER BY id")  # noqa: S608
            return [row[0] for row in cursor.fetchall()]


#: Chat ids of a plan: an explicit list (small, e.g. one batch of the sweeper) or
#: the staged selection.
ChatIds = Sequence[int] | _Staged

SCRATCH = "neptun_deletion_chats"
SCRATCH_ALL = "neptun_deletion_all"


@dataclass
class _Plan:
    chat_ids: ChatIds
    collection_ids: Sequence[int] | _Staged
    delete_chat_files: bool
    by_type: Counter[str]


def _id_sets(ids: Sequence[int] | _Staged) -> Iterator[Sequence[int] | RawSQL]:
    """Values for ``__in`` covering ``ids``: one subquery, or chunks of a list."""
    if isinstance(ids, _Staged):
        if len(ids):
            yield ids.subquery()
        return
    yield from _chunks(ids)


def _as_list(ids: ChatIds) -> list[int]:
    return ids.ids() if isinstance(ids, _Staged) else list(ids)


def _in_value(ids: Sequence[int] | _Staged | RawSQL) -> Sequence[int] | RawSQL:
    """One ``__in`` value for all of ``ids``: our subquery when staged; for a list
    on PostgreSQL, one array parameter (``IN (SELECT unnest(%s::bigint[]))``), so
    a thousand ids cost one parameter instead of a thousand placeholders, in the
    SQL text and in the driver's memory."""
    if isinstance(ids, _Staged):
        return ids.subquery()
    if isinstance(ids, RawSQL):
        return ids
    ids = list(ids)
    if connection.vendor == "postgresql" and len(ids) > 1:
        return RawSQL("SELECT unnest(%s::bigint[])", (ids,))
    return ids


# --------------------------------------------------------------------------- planning


#: Up to this many chats, a plan keeps their ids in a list: one locking SELECT
#: instead of creating, filling and analysing the temporary table (on PostgreSQL
#: the list then travels as one array parameter). Measured with 1,000: p3 at the
#: small scale (200 chats) was no faster — counting through a long array costs
#: what the staging saves — and a 1,000-id project batch held its ids and types
#: in Python (4x the peak memory of 100 ids, against 1.5x when staged).
SMALL_SELECTION = 100


def _stage(
    chats: QuerySet[Chat],
    *,
    lock: bool,
    table: str = SCRATCH,
    small_ok: bool = True,
    by_type: Counter[str] | None = None,
) -> ChatIds:
    """Put the ids of ``chats`` in a temporary table, locking the rows if asked.

    A selection of at most ``SMALL_SELECTION`` chats (with ``small_ok``) is returned
    as a list instead, locked by the same ordered ``SELECT … FOR UPDATE``. A caller
    that knows the selection is larger (a request naming more ids) passes
    ``small_ok=False`` and saves that first read.

    With ``by_type``, the chats' conversation types are tallied into it by the same
    statement that selects them (no extra query).

    Locks are taken in id order (``INSERT … SELECT … ORDER BY id FOR UPDATE``), so
    concurrent deletions of overlapping sets queue instead of deadlocking.
    Re-selecting by id keeps joins or DISTINCT of the caller's queryset away from
    ``FOR UPDATE`` (PostgreSQL refuses it with DISTINCT).
    """
    selected = Chat.objects.filter(pk__in=chats.order_by().values("pk")).order_by("id")
    if lock:
        selected = selected.select_for_update()
    if small_ok:
        first = list(selected.values_list("id", "conversation_type")[: SMALL_SELECTION + 1])
        if len(first) <= SMALL_SELECTION:
            if by_type is not None:
                by_type.update(TYPE_KEYS.get(kind, "null") for _, kind in first)
            return [chat_id for chat_id, _ in first]
    try:
        sql, params = selected.values_list("id", "conversation_type").query.sql_with_params()
    except EmptyResultSet:  # e.g. Chat.objects.none()
        sql, params = "", ()
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {table} (id bigint PRIMARY KEY, kind varchar(32))"
        )
        cursor.execute(f"DELETE FROM {table}")  # noqa: S608
        if not sql:
            return _Staged(table, 0)
        if connection.vendor == "postgresql" and by_type is not None:
            # Insert and tally in one statement; the count is the tally's sum.
            cursor.execute(
                f"WITH staged AS (INSERT INTO {table} (id, kind) {sql} RETURNING kind) "  # noqa: S608
                "SELECT kind, COUNT(*) FROM staged GROUP BY kind",
                params,
            )
            rows = cursor.fetchall()
            count = sum(n for _, n in rows)
        else:
            cursor.execute(f"INSERT INTO {table} (id, kind) {sql}", params)
            count = cursor.rowcount
            rows = None
            if by_type is not None:
                cursor.execute(f"SELECT kind, COUNT(*) FROM {table} GROUP BY kind")  # noqa: S608
                rows = cursor.fetchall()
        if by_type is not None:
            by_type.update({TYPE_KEYS.get(kind, "null"): n for kind, n in rows})
        if connection.vendor == "postgresql":
            # Temporary tables have no statistics until analysed; without them the
            # planner may scan a whole child table instead of using its index.
            cursor.execute(f"ANALYZE {table}")
    return _Staged(table, count)


SCRATCH_COLLECTIONS = "neptun_deletion_collections"


def _collections_going_with(chat_ids: ChatIds, owner: User) -> list[int] | _Staged:
    """User-owned collections linked only from the chats being deleted.

    Up to ``SMALL_SELECTION`` of them come back as a list; more are staged in a
    temporary table like the chats, so memory does not grow with their number.
    """
    selected = _in_value(chat_ids)
    linked = Chat.objects.filter(id__in=selected, collection__isnull=False).values("collection_id")
    # A collection that a surviving chat (of anyone) still links to stays.
    survivors = Chat.objects.filter(collection_id=OuterRef("pk")).exclude(id__in=selected)
    going = (
        Collection.objects.filter(id__in=linked, owner=owner, is_global=False)
        .exclude(Exists(survivors))
        .order_by("id")
    )
    first = list(going.values_list("id", flat=True)[: SMALL_SELECTION + 1])
    if len(first) <= SMALL_SELECTION:
        return first
    sql, params = going.values_list("id").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {SCRATCH_COLLECTIONS} (id bigint PRIMARY KEY)"
        )
        cursor.execute(f"DELETE FROM {SCRATCH_COLLECTIONS}")  # noqa: S608
        cursor.execute(f"INSERT INTO {SCRATCH_COLLECTIONS} (id) {sql}", params)
        count = cursor.rowcount
        if connection.vendor == "postgresql":
            cursor.execute(f"ANALYZE {SCRATCH_COLLECTIONS}")
    return _Staged(SCRATCH_COLLECTIONS, count)


def _plan(
    chats: QuerySet[Chat],
    *,
    lock: bool = True,
    with_collections_of: User | None = None,
    keep_files: bool = False,
    small_ok: bool = True,
) -> _Plan:
    by_type: Counter[str] = Counter()
    chat_ids = _stage(chats, lock=lock, small_ok=small_ok, by_type=by_type)
    collection_ids = (
        _collections_going_with(chat_ids, with_collections_of)
        if with_collections_of is not None and not keep_files
        else []
    )
    return _Plan(
        chat_ids=chat_ids,
        collection_ids=collection_ids,
        delete_chat_files=not keep_files,
        by_type=by_type,
    )


@dataclass(frozen=True)
class _FileSet:
    """Files a plan deletes: the chats' own files, or the collections' files."""

    of_chats: bool
    where: str  # SQL condition on the files table
    params: list[Any]
    files: QuerySet[File]  # the same set as a queryset


def _file_sets(plan: _Plan) -> Iterator[_FileSet]:
    if plan.delete_chat_files:
        for ids in _id_sets(plan.chat_ids):
            among, params = _among("chat_id", ids)
            yield _FileSet(
                True,
                f"{among} AND collection_id IS NULL",
                params,
                File.objects.filter(chat_id__in=_in_value(ids), collection__isnull=True),
            )
    for ids in _id_sets(plan.collection_ids):
        among, params = _among("collection_id", ids)
        yield _FileSet(
            False,
            among,
            params,
            File.objects.filter(collection_id__in=_in_value(ids)),
        )


def _files_of(plan: _Plan) -> Iterator[QuerySet[File]]:
    """Querysets of the files the plan deletes."""
    for file_set in _file_sets(plan):
        yield file_set.files


def _among(column: str, ids: Sequence[int] | RawSQL) -> tuple[str, list[Any]]:
    """SQL condition ``column`` is one of ``ids`` (our subquery, or a list), and its
    parameters. On PostgreSQL a list is one array parameter (``= ANY(%s)``), so
    the statement's size does not grow with the number of ids."""
    if isinstance(ids, RawSQL):
        return f"{column} IN ({ids.sql})", list(ids.params)
    if connection.vendor == "postgresql":
        return f"{column} = ANY(%s::bigint[])", [list(ids)]
    return f"{column} IN ({', '.join(['%s'] * len(ids))})", list(ids)


@dataclass
class _Children:
    """What goes with the chats, counted before they are deleted (see below)."""

    #: messages, links and connections (socket records)
    counts: Counter[str]
    #: files uploaded in the chats that belong to no collection (deleted with them)
    own_files: int = 0
    #: sockets whose heartbeat is recent enough (asked for with ``live_since``)
    live_connections: int = 0
    #: chats with socket records (to notify after commit); ``None``: not gathered
    connected: list[int] | None = None
    #: files in the plan's collections, for a listed few; ``None``: not counted
    collection_files: int | None = None


def _connected_sql(column: str) -> str:
    if connection.vendor == "postgresql":
        return f"string_agg(DISTINCT {column}::text, ',')"
    return f"group_concat(DISTINCT {column})"


def _count_children(
    chat_ids: ChatIds,
    *,
    live_since: Any = None,
    collection_ids: Sequence[int] | _Staged = (),
) -> _Children:
    """Messages, links, socket records and own files of the chats: one statement
    per id set.

    Messages, links and socket records go by the database's cascade when their
    chat is deleted, so they are counted here, before, while the chats are locked
    (a message or link cannot be added to a locked chat: its foreign-key check
    waits for the lock). With ``live_since``, also the sockets whose heartbeat is
    at least that recent. For a listed selection (at most ``SMALL_SELECTION``
    chats) the same statement names the chats that have socket records, and
    counts the files of listed ``collection_ids`` (the collections going too).
    """
    children = _Children(Counter())
    tables = {
        "messages": Message._meta.db_table,
        "links": ProjectChat._meta.db_table,
        "connections": ChatConnection._meta.db_table,
    }
    files = File._meta.db_table
    listed = not isinstance(chat_ids, _Staged)
    if listed:
        children.connected = []
    for ids in _id_sets(chat_ids):
        among, in_params = _among("chat_id", ids)
        # Table names come from the models; ids are parameters or our subquery.
        columns = [
            f"(SELECT COUNT(*) FROM {table} WHERE {among})"  # noqa: S608
            for table in tables.values()
        ]
        columns.append(
            f"(SELECT COUNT(*) FROM {files} "  # noqa: S608
            f"WHERE {among} AND collection_id IS NULL)"
        )
        params = in_params * len(columns)
        if live_since is not None:
            columns.append(
                f"(SELECT COUNT(*) FROM {tables['connections']} "  # noqa: S608
                f"WHERE {among} AND last_seen_at >= %s)"
            )
            params += [*in_params, live_since]
        if listed:
            columns.append(
                f"(SELECT {_connected_sql('chat_id')} FROM {tables['connections']} "  # noqa: S608
                f"WHERE {among})"
            )
            params += in_params
        listed_collections = (
            collection_ids
            if children.collection_files is None and not isinstance(collection_ids, _Staged)
            else ()
        )
        count_collections = bool(listed_collections)
        if count_collections:
            in_collections, collection_params = _among("collection_id", listed_collections)
            columns.append(f"(SELECT COUNT(*) FROM {files} WHERE {in_collections})")  # noqa: S608
            params += collection_params
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {', '.join(columns)}", params)
            row = list(cursor.fetchone())
        if count_collections:
            children.collection_files = row.pop()
        if children.connected is not None:
            connected = row.pop()
            if connected:
                children.connected += [int(chat_id) for chat_id in str(connected).split(",")]
        if live_since is not None:
            children.live_connections += row.pop()
        children.own_files += row.pop()
        children.counts.update(dict(zip(tables, row, strict=True)))
    return children


def _count(plan: _Plan) -> Counter[str]:
    """What executing the plan would delete (the dry run). Blobs are counted by the
    caller over every file the whole deletion takes
    (:func:`chats.deletion.effects.blobs_removed_with`)."""
    counts: Counter[str] = Counter()
    counts["chats"] = len(plan.chat_ids)
    counts["collections"] = len(plan.collection_ids)
    counts.update(_count_children(plan.chat_ids).counts)
    for files in _files_of(plan):
        counts["files"] += files.count()
    return counts


# --------------------------------------------------------------------------- execution


def _connected_chats(plan: _Plan) -> list[int]:
    """Chats of the plan with socket records: the only ones to notify after commit."""
    connected: list[int] = []
    for ids in _id_sets(plan.chat_ids):
        connected.extend(
            ChatConnection.objects.filter(chat_id__in=_in_value(ids))
            .order_by()
            .values_list("chat_id", flat=True)
            .distinct()
        )
    return connected


SCRATCH_BLOBS = "neptun_deletion_blobs"


def _create_blob_queue(cursor: Any) -> None:
    """The per-connection queue of blob names (a no-op once it exists)."""
    cursor.execute(f"CREATE TEMP TABLE IF NOT EXISTS {SCRATCH_BLOBS} (name varchar(500))")


def _queue_blobs(files: QuerySet[File]) -> None:
    """Note the blob names of ``files`` in a temporary table, in the database.

    The names move to the outbox with the record (:func:`_write_outbox`), so Python
    memory does not grow with the number of files deleted. The table is
    transactional: if the deletion rolls back, so do the names.
    """
    try:
        sql, params = files.exclude(blob="").values_list("blob").query.sql_with_params()
    except EmptyResultSet:
        return
    with connection.cursor() as cursor:
        _create_blob_queue(cursor)
        cursor.execute(f"INSERT INTO {SCRATCH_BLOBS} (name) {sql}", params)


def _blob_list_max() -> int:
    """Up to this many files, blob names are held in a list, not the database queue."""
    return int(getattr(settings, "DELETION_BLOB_CHUNK_SIZE", 200))


def _delete_files_returning(file_set: _FileSet) -> tuple[int, list[str]]:
    """Delete the files; their count and the blob names no other row references.

    One statement: ``DELETE … RETURNING blob`` with, for each row, whether a file
    that stays (one the same condition does not select: ``IS NOT TRUE``, so a NULL
    chat or collection counts as staying) still references its blob.
    """
    table = File._meta.db_table
    cursor_sql = (
        f"DELETE FROM {table} WHERE {file_set.where} "  # noqa: S608
        f"RETURNING blob, EXISTS (SELECT 1 FROM {table} o "
        f"WHERE o.blob = {table}.blob AND ({file_set.where}) IS NOT TRUE)"
    )
    with connection.cursor() as cursor:
        cursor.execute(cursor_sql, [*file_set.params, *file_set.params])
        rows = cursor.fetchall()
    return len(rows), sorted({name for name, in_use in rows if name and not in_use})


def _delete_files_queued(file_set: _FileSet) -> tuple[int, int | None]:
    """Delete the files, noting their blob names in the database's queue.

    Returns the number of files and of names queued (``None``: not known). On
    PostgreSQL one statement deletes the rows and queues the names (``WITH gone
    AS (DELETE … RETURNING blob) INSERT …``).
    """
    if connection.vendor != "postgresql":
        _queue_blobs(file_set.files)
        return file_set.files.delete()[0], None
    with connection.cursor() as cursor:
        _create_blob_queue(cursor)
        cursor.execute(
            f"WITH gone AS (DELETE FROM {File._meta.db_table} WHERE {file_set.where} "  # noqa: S608
            "RETURNING blob), "
            f"queued AS (INSERT INTO {SCRATCH_BLOBS} (name) "
            "SELECT blob FROM gone WHERE blob <> '') "
            "SELECT COUNT(*), COUNT(*) FILTER (WHERE blob <> '') FROM gone",
            file_set.params,
        )
        files, queued = cursor.fetchone()
    return files, queued


@dataclass
class _Deleted:
    """What :func:`_execute` deleted, and the blobs to remove after commit."""

    counts: Counter[str]
    #: blob names held in memory (few: see ``_blob_list_max``)
    blob_names: list[str] = field(default_factory=list)
    #: names put in the database queue; ``None``: some, how many is not known
    queued: int | None = 0


def _execute(
    plan: _Plan, *, queue_blobs: bool = False, children: _Children | None = None
) -> _Deleted:
    """Delete what the plan names; return counts and the blobs to remove.

    Blob names come back in a list, except with ``queue_blobs`` for a file set
    that may be large (more than ``_blob_list_max`` files, or a number not
    counted beforehand): those go to the database's queue (see
    :func:`_queue_blobs`). ``children`` are the counts of
    :func:`_count_children` when the caller has them already.

    The files of the chats that belong to no collection are deleted first (their
    blobs must be noted); then the chats, whose messages, project links and
    socket records go by the database's ``ON DELETE CASCADE`` (files that stay in
    a collection lose their chat link by ``SET NULL``). Measured on PostgreSQL,
    deleting messages set-based first and then the chats costs more than the
    cascade alone: the chat delete still runs its cascade triggers, which then
    find nothing (p3 at large: 299 ms + 95 ms against 162 ms for the cascade).
    """
    if children is None:
        children = _count_children(plan.chat_ids)
    deleted = _Deleted(Counter())
    counts = deleted.counts
    for file_set in _file_sets(plan):
        known = children.own_files if file_set.of_chats else children.collection_files
        few = known is not None and known <= _blob_list_max()
        if few or not queue_blobs:
            n, names = _delete_files_returning(file_set)
            deleted.blob_names += names
        else:
            n, queued = _delete_files_queued(file_set)
            if deleted.queued is not None:
                deleted.queued = None if queued is None else deleted.queued + queued
        counts["files"] += n
    counts.update(children.counts)
    for ids in _id_sets(plan.chat_ids):
        counts["chats"] += Chat.objects.filter(id__in=_in_value(ids)).delete()[0]
    for ids in _id_sets(plan.collection_ids):
        counts["collections"] += Collection.objects.filter(id__in=_in_value(ids)).delete()[0]
    return deleted


def _remove_blob(name: str, result: DeletionResult) -> None:
    """Remove one blob whose row is gone; a failure is reported, never raised."""
    try:
        default_storage.delete(name)
    except Exception as exc:
        logger.warning("blob %s could not be removed: %s", name, exc)
        result.errors.append(
            {
                "kind": "blob",
                "blob": name,
                "error": f"{type(exc).__name__}: {exc}",
                "action": "left in storage; `manage.py cleanup_orphans` removes it",
            }
        )
    else:
        result.counts["blobs"] += 1


def _remove_blobs(names: Iterable[str], result: DeletionResult, *, checked: bool = False) -> None:
    """Remove blobs whose rows are gone (a list of names, e.g. one sweeper batch).

    Unless ``checked`` (the names come from :func:`_delete_files_returning`, which
    left out the blobs still in use), the rows are asked again first: a blob that
    a file row references stays.
    """
    names = sorted(set(names))
    if not names:
        return
    still_referenced: set[str] = set()
    for start in range(0, len(names) if not checked else 0, _chunk_size()):
        still_referenced.update(
            File.objects.filter(blob__in=names[start : start + _chunk_size()]).values_list(
                "blob", flat=True
            )
        )
    for name in names:
        if name not in still_referenced:
            _remove_blob(name, result)


def _notify_chats_deleted(chat_ids: Sequence[int]) -> None:
    """Tell live sockets of deleted chats to close (best effort, after commit)."""
    send_to_groups((chat_group(chat_id) for chat_id in chat_ids), {"type": "chat.deleted"})


def chat_group(chat_id: int) -> str:
    """Channel-layer group of a chat's sockets."""
    return f"chat-{chat_id}"


#: Extra work of a deletion beyond its chats and collections (projects, users):
#: called with ``dry_run``; returns counts and the files it deletes (``None``: none),
#: so a dry run counts their blobs with the plan's. Executing, it queues the blob
#: names of the files it deletes in the database (see ``_queue_blobs``).
Also = Callable[[bool], tuple[Counter[str], QuerySet[File] | None]]


def _run(
    plan: _Plan,
    ctx: DeletionContext,
    *,
    dry_run: bool = False,
    also: Also | None = None,
    children: _Children | None = None,
) -> DeletionResult:
    """Execute (or only count) a plan inside the caller's transaction.

    ``children``: the counts of :func:`_count_children`, when the caller has them.
    """
    result = DeletionResult(by_type=plan.by_type, dry_run=dry_run)
    if dry_run:
        result.counts = _count(plan)
        file_sets = list(_files_of(plan))
        if also is not None:
            more_counts, more_files = also(True)
            result.counts.update(more_counts)
            if more_files is not None:
                file_sets.append(more_files)
        result.counts["blobs"] = effects.blobs_removed_with(file_sets)
        return result
    # With ``also`` (users, tenants) the record is written first: if the actor is
    # among the deleted users, the database sets ``actor`` to NULL and the record
    # keeps the actor's email. Otherwise it is written once, at the end, with the
    # counts (in the same transaction either way).
    record = _record(ctx, result) if also is not None else None
    if record is not None:
        result.record_id = record.pk
    if children is None:
        children = _count_children(plan.chat_ids)
    connected = _connected(plan, children)
    deleted = _execute(plan, queue_blobs=True, children=children)
    counts = deleted.counts
    if also is not None:
        more_counts, _ = also(False)
        counts.update(more_counts)
        deleted.queued = None  # a user's remaining files are queued by ``also``
    # Blobs to remove after commit: the outbox rows written with the record.
    counts["blobs"] = _expected_blobs(deleted.blob_names, deleted.queued)
    result.counts = counts
    if record is None:
        record = _record(ctx, result)
    result.record_id = record.pk
    result.deleted_at = record.created_at
    queued = _write_outbox(record.pk, deleted)
    if also is not None or len(queued) != counts["blobs"]:
        counts["blobs"] = len(queued)
        _save_counts(result)
    if queued or connected:
        transaction.on_commit(partial(_after_commit, result, queued, connected))
    _log(ctx, result)
    return result


def _write_outbox(record_id: int, deleted: _Deleted) -> effects.Queued:
    """The outbox rows of a deletion's blobs, in its transaction."""
    queued = effects.queue_blob_removals(
        record_id=record_id, names=deleted.blob_names, checked=True
    )
    if deleted.queued != 0:
        with connection.cursor() as cursor:
            _create_blob_queue(cursor)  # ``also`` may have queued none
        effects.queue_from_table(record_id=record_id, table=SCRATCH_BLOBS, queued=queued)
    return queued


def _connected(plan: _Plan, children: _Children) -> list[int]:
    """Chats of the plan with socket records: the only ones to notify after commit."""
    if children.connected is not None:
        return children.connected
    return _connected_chats(plan) if children.counts["connections"] else []


def _after_commit(result: DeletionResult, queued: effects.Queued, chat_ids: list[int]) -> None:
    """Blobs and socket notices, once the rows' deletion has committed.

    The record was written with the blobs the deletion expects to remove (its
    outbox rows, :mod:`chats.deletion.effects`); they are carried out now, and the
    record is updated only when the outcome differs: storage refused some (listed
    in ``errors``; the worker retries them), or some were found in use.
    """
    if queued and result.record_id is not None:
        outcome = effects.carry_out(record_id=result.record_id, queued=queued)
        result.counts["blobs"] += outcome.removed - len(queued)
        result.errors.extend(outcome.errors)
        if outcome.errors or outcome.removed != len(queued):
            _save_counts(result)
    _notify_chats_deleted(chat_ids)


def _expected_blobs(blob_names: list[str], queued: int | None) -> int:
    """Blobs a deletion expects to remove after commit (written on its record)."""
    return len(blob_names) + (queued or 0)


def _save_counts(result: DeletionResult) -> None:
    if result.record_id is None:
        return
    DeletionRecord.objects.filter(pk=result.record_id).update(
        errors=result.errors, counts=_counts_json(result)
    )


def _log(ctx: DeletionContext, result: DeletionResult) -> None:
    actor = ctx.actor.email if ctx.actor else None
    logger.info(
        "deletion %s %s by %s: %s",
        ctx.interface,
        ctx.endpoint,
        actor or "system",
        dict(result.counts),
        extra={
            "event": "deletion",
            "record_id": result.record_id,
            "interface": ctx.interface,
            "endpoint": ctx.endpoint,
            "actor": actor,
            "counts": dict(result.counts),
            "by_type": dict(result.by_type),
            "batches": result.batches,
        },
    )


def _counts_json(result: DeletionResult) -> dict[str, Any]:
    data: dict[str, Any] = {kind: 0 for kind in (*COUNT_KINDS, "blobs")}
    data.update(result.counts)
    data["by_type"] = dict(result.by_type)
    if result.batches > 1:
        data["batches"] = result.batches
    return data


def _record(ctx: DeletionContext, result: DeletionResult) -> DeletionRecord:
    if ctx.record_id is not None:
        record = DeletionRecord.objects.get(pk=ctx.record_id)
        record.counts, record.errors = _counts_json(result), result.errors
        record.save(update_fields=["counts", "errors"])
        return record
    return DeletionRecord.objects.create(
        actor=ctx.actor if ctx.actor is not None and ctx.actor.pk else None,
        actor_email=getattr(ctx.actor, "email", "") or "",
        interface=ctx.interface,
        endpoint=ctx.endpoint[:300],
        remote_addr=ctx.remote_addr or None,
        counts=_counts_json(result),
        errors=result.errors,
    )


# --------------------------------------------------------------------------- large purges
#
# Above ``DELETION_BATCH_THRESHOLD`` messages, a deletion runs in batches of
# ``DELETION_BATCH_CHATS`` chats, each in its own short transaction with
# PostgreSQL's ``lock_timeout`` and ``statement_timeout`` set, so no lock is held
# for minutes. The trade-off: the deletion as a whole is no longer atomic. If it
# stops halfway, the batches already committed stay deleted (each one complete:
# a chat never loses only part of its messages), the record says how far it got,
# and running the same deletion again finishes the job. Collections, projects and
# user rows go in a last transaction, after every chat that linked them is gone.


def _batch_threshold() -> int | None:
    """Messages above which a deletion runs in batches; None when it must not batch."""
    threshold = int(getattr(settings, "DELETION_BATCH_THRESHOLD", 500_000))
    if threshold <= 0 or not transaction.get_autocommit():
        return None  # inside a caller's transaction: stay in it
    return threshold


class _TooLarge(Exception):
    """Raised inside the single transaction to roll it back and run in batches."""

    def __init__(self, messages: int) -> None:
        super().__init__(messages)
        self.messages = messages


def _set_timeouts() -> None:
    if connection.vendor != "postgresql":
        return
    lock_timeout = getattr(settings, "DELETION_LOCK_TIMEOUT", "5s")
    statement_timeout = getattr(settings, "DELETION_STATEMENT_TIMEOUT", "60s")
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('lock_timeout', %s, true)", [lock_timeout])
        cursor.execute("SELECT set_config('statement_timeout', %s, true)", [statement_timeout])


def _batch_size(total_chats: int, estimated_messages: int) -> int:
    """Chats per batch: about ``DELETION_BATCH_MESSAGES`` messages, at most
    ``DELETION_BATCH_CHATS`` chats (so a batch of huge chats stays short too)."""
    most = int(getattr(settings, "DELETION_BATCH_CHATS", 500))
    budget = int(getattr(settings, "DELETION_BATCH_MESSAGES", 50_000))
    per_chat = max(1, estimated_messages // max(1, total_chats))
    return max(1, min(most, budget // per_chat))


def _run_batched(
    plan: _Plan,
    ctx: DeletionContext,
    *,
    also: Also | None,
    keep_linked_collections: bool,
    progress: Progress | None,
    estimated_messages: int,
) -> DeletionResult:
    """Delete a large plan in short transactions (see the section comment).

    ``plan.chat_ids`` is the whole selection staged in ``SCRATCH_ALL``; each batch
    takes the next window of ids from it (keyset), locks them and deletes them.
    """
    result = DeletionResult()
    size = _batch_size(len(plan.chat_ids), estimated_messages)
    total = -(-len(plan.chat_ids) // size) + 1
    with transaction.atomic():
        record = _record(ctx, result)
    result.record_id = record.pk
    last, done = 0, 0
    while True:
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT id FROM {SCRATCH_ALL} WHERE id > %s ORDER BY id LIMIT %s",  # noqa: S608
                [last, size],
            )
            window = [row[0] for row in cursor.fetchall()]
        if not window:
            break
        last = window[-1]
        with transaction.atomic():
            _set_timeouts()
            by_type: Counter[str] = Counter()
            staged = _stage(Chat.objects.filter(id__in=window), lock=True, by_type=by_type)
            batch = _Plan(staged, [], plan.delete_chat_files, by_type)
            children = _count_children(staged)
            connected = _connected(batch, children)
            deleted = _execute(batch, queue_blobs=True, children=children)
            queued = _write_outbox(record.pk, deleted)
            deleted.counts["blobs"] = len(queued)
            result.counts.update(deleted.counts)
            result.by_type.update(batch.by_type)
            done += 1
            result.batches = done
            _save_counts(result)
            transaction.on_commit(partial(_after_commit, result, queued, connected))
        if progress is not None:
            progress(done, max(total, done + 1))
    with transaction.atomic():
        _set_timeouts()
        collection_ids = plan.collection_ids
        if keep_linked_collections and collection_ids:
            # Every selected chat is gone now: a chat still linking is a survivor.
            candidates = _in_value(collection_ids)
            still_used = Chat.objects.filter(collection_id__in=candidates).values("collection_id")
            collection_ids = list(
                Collection.objects.filter(id__in=candidates)
                .exclude(id__in=still_used)
                .values_list("id", flat=True)
            )
        final = _Plan([], collection_ids, False, Counter())
        deleted = _execute(final, queue_blobs=True)
        if also is not None:
            more_counts, _ = also(False)
            deleted.counts.update(more_counts)
            deleted.queued = None  # a user's remaining files are queued by ``also``
        queued = _write_outbox(record.pk, deleted)
        deleted.counts["blobs"] = len(queued)
        result.counts.update(deleted.counts)
        done += 1
        result.batches = done
        _save_counts(result)
        transaction.on_commit(partial(_after_commit, result, queued, []))
    if progress is not None:
        progress(done, done)
    _log(ctx, result)
    return result


def _perform(
    chats: QuerySet[Chat],
    ctx: DeletionContext,
    *,
    with_collections_of: User | None = None,
    keep_files: bool = False,
    make_also: Callable[[_Plan], Also] | None = None,
    extra_collections: Callable[[], list[int]] | None = None,
    progress: Progress | None = None,
) -> DeletionResult:
    """Plan and execute, in one transaction or — for a large purge — in batches.

    The single transaction locks the chats and counts their messages first (a
    count the record needs anyway). When that count is above
    ``DELETION_BATCH_THRESHOLD`` and no caller's transaction is open, the
    transaction is rolled back — releasing the locks, nothing deleted — and the
    deletion runs in batches instead. The exact count decides, not an estimate;
    a large purge pays for that count once more, which is small beside its
    deletion.
    """
    threshold = _batch_threshold()
    progress = progress or ctx.progress
    try:
        with transaction.atomic():
            by_type: Counter[str] = Counter()
            chat_ids = _stage(chats, lock=True, by_type=by_type)
            plan = _Plan(
                chat_ids=chat_ids,
                collection_ids=(
                    _collections_going_with(chat_ids, with_collections_of)
                    if with_collections_of is not None and not keep_files
                    else []
                ),
                delete_chat_files=not keep_files,
                by_type=by_type,
            )
            if extra_collections is not None:
                plan.collection_ids = extra_collections()
            children = _count_children(chat_ids, collection_ids=plan.collection_ids)
            if threshold is not None and children.counts["messages"] > threshold:
                raise _TooLarge(children.counts["messages"])
            result = _run(plan, ctx, also=make_also(plan) if make_also else None, children=children)
    except _TooLarge as large:
        staged = _stage(chats, lock=False, table=SCRATCH_ALL, small_ok=False)
        collection_ids = (
            _collections_going_with(staged, with_collections_of)
            if with_collections_of is not None and not keep_files
            else []
        )
        if extra_collections is not None:
            collection_ids = extra_collections()
        plan = _Plan(staged, collection_ids, not keep_files, Counter())
        empty = _Plan([], [], False, Counter())
        return _run_batched(
            plan,
            ctx,
            also=make_also(empty) if make_also else None,
            keep_linked_collections=with_collections_of is not None,
            progress=progress,
            estimated_messages=large.messages,
        )
    if progress is not None:
        progress(1, 1)
    return result


# --------------------------------------------------------------------------- public API


def _live_cutoff() -> datetime:
    """A socket whose last heartbeat is older than this is not live any more."""
    from django.utils import timezone

    return timezone.now() - timedelta(seconds=settings.CHAT_CONNECTION_TTL)


def live_connections(chat: Chat) -> int:
    """Sockets on the chat whose heartbeat is fresher than the TTL."""
    return ChatConnection.objects.filter(chat=chat, last_seen_at__gte=_live_cutoff()).count()


@transaction.atomic
def chat_delete(
    *, chat: Chat | QuerySet[Chat], ctx: DeletionContext, refuse_if_connected: bool = False
) -> DeletionResult:
    """Delete one chat with its messages, links, connections and own attachments.

    ``chat`` is a chat, or a queryset that selects at most one (the caller's
    lookup, e.g. by uuid within a tenant): it is then found and locked by one
    statement, and :class:`NotFound` is raised when it selects none.

    With ``refuse_if_connected`` (the v1 dialect) a chat with live WebSocket
    connections is not deleted: :class:`Conflict` carries ``active_connections``.
    The chat row is locked first, so a socket connecting concurrently either is
    counted here or finds the chat gone.
    """
    selection = chat if isinstance(chat, QuerySet) else Chat.objects.filter(pk=chat.pk)
    plan = _plan(selection)
    if len(plan.chat_ids) != 1:
        raise NotFound("Chat not found")
    # One statement counts the children and, for v1, the live sockets.
    children = _count_children(
        plan.chat_ids, live_since=_live_cutoff() if refuse_if_connected else None
    )
    if children.live_connections:
        raise Conflict(
            "Chat has active WebSocket connections; close them and try again.",
            active_connections=children.live_connections,
        )
    return _run(plan, ctx, children=children)


def chats_delete(
    *, chats: QuerySet[Chat], ctx: DeletionContext, progress: Progress | None = None
) -> DeletionResult:
    """Delete the selected chats (admin bulk action); batched when large."""
    return _perform(chats, ctx, progress=progress)


def chats_delete_preview(*, chats: QuerySet[Chat]) -> DeletionResult:
    """Counts of what :func:`chats_delete` would remove, from aggregate queries."""
    return _run(_plan(chats, lock=False), DeletionContext(None, "preview"), dry_run=True)


@transaction.atomic
def project_chats_delete(
    *, owner: User, project_id: int, chat_ids: Sequence[int], ctx: DeletionContext
) -> DeletionResult:
    """Delete chats of a project, all or nothing.

    Every id must be a chat of ``owner`` linked to the project (one of ``owner``'s),
    otherwise nothing is deleted and :class:`NotFound` names the missing ids.
    """
    project = Project.objects.filter(pk=project_id, owner=owner).select_for_update().first()
    if project is None:
        raise NotFound("Project not found")
    wanted = sorted(set(chat_ids))
    if not wanted:
        return DeletionResult()
    # An id no primary key can hold is simply missing (SQLite raises OverflowError on it).
    storable = [i for i in wanted if 0 < i <= 2**63 - 1]
    chats = Chat.objects.filter(
        id__in=_in_value(storable), owner=owner, project_links__project=project
    )
    plan = _plan(chats, small_ok=len(storable) <= SMALL_SELECTION)
    found = len(plan.chat_ids)
    missing = [] if found == len(wanted) else sorted(set(wanted) - set(_as_list(plan.chat_ids)))
    if missing:
        raise NotFound(
            "Chats not found in project: " + ", ".join(str(i) for i in missing),
            missing_ids=missing,
        )
    return _run(plan, ctx)


@dataclass(frozen=True)
class ConversationFlags:
    """The five options of the conversations endpoint (all default to true)."""

    delete_files_and_collections: bool = True
    delete_regular_chats: bool = True
    delete_user_file_conversations: bool = True
    delete_global_collection_conversations: bool = True
    delete_null_conversations: bool = True

    def selected_chats(self, user: User) -> QuerySet[Chat]:
        types = []
        if self.delete_regular_chats:
            types.append(ConversationType.REGULAR)
        if self.delete_user_file_conversations:
            types.append(ConversationType.USER_FILES)
        if self.delete_global_collection_conversations:
            types.append(ConversationType.GLOBAL_COLLECTION)
        condition = Q(conversation_type__in=types)
        if self.delete_null_conversations:
            condition |= Q(conversation_type__isnull=True)
        return Chat.objects.filter(condition, owner=user)


def _conversations_plan(*, user: User, flags: ConversationFlags, lock: bool) -> _Plan:
    return _plan(
        flags.selected_chats(user),
        lock=lock,
        with_collections_of=user if flags.delete_files_and_collections else None,
        keep_files=not flags.delete_files_and_collections,
    )


def conversations_delete(
    *,
    user: User,
    flags: ConversationFlags,
    ctx: DeletionContext,
    progress: Progress | None = None,
) -> DeletionResult:
    """Delete a user's conversations of the selected types (see module docstring)."""
    return _perform(
        flags.selected_chats(user),
        ctx,
        with_collections_of=user if flags.delete_files_and_collections else None,
        keep_files=not flags.delete_files_and_collections,
        progress=progress,
    )


def conversations_delete_preview(*, user: User, flags: ConversationFlags) -> DeletionResult:
    """What :func:`conversations_delete` would remove; deletes nothing."""
    return _run(
        _conversations_plan(user=user, flags=flags, lock=False),
        DeletionContext(user, "preview"),
        dry_run=True,
    )


def _projects_parts(
    projects: QuerySet[Project], *, with_chats: bool
) -> tuple[QuerySet[Chat], Callable[[_Plan], Also]]:
    project_ids = list(projects.order_by("id").values_list("id", flat=True))
    chats = (
        Chat.objects.filter(
            pk__in=ProjectChat.objects.filter(project_id__in=project_ids).values("chat_id")
        )
        if with_chats
        else Chat.objects.none()
    )

    def make_also(plan: _Plan) -> Also:
        def also(dry_run: bool) -> tuple[Counter[str], QuerySet[File] | None]:
            # Links of deleted chats are counted with the chats; count the rest here.
            counts: Counter[str] = Counter()
            for ids in _chunks(project_ids):
                links = ProjectChat.objects.filter(project_id__in=ids)
                if plan.chat_ids:
                    links = links.exclude(chat_id__in=_in_value(plan.chat_ids))
                projects_qs = Project.objects.filter(id__in=ids)
                if dry_run:
                    counts["links"] += links.count()
                    counts["projects"] += projects_qs.count()
                else:
                    counts["links"] += links.delete()[0]
                    counts["projects"] += projects_qs.delete()[0]
            return counts, None

        return also

    return chats, make_also


def projects_delete(
    *,
    projects: QuerySet[Project],
    with_chats: bool,
    ctx: DeletionContext,
    progress: Progress | None = None,
) -> DeletionResult:
    """Delete projects with their links; their chats too when ``with_chats``."""
    chats, make_also = _projects_parts(projects, with_chats=with_chats)
    return _perform(chats, ctx, make_also=make_also, progress=progress)


def projects_delete_preview(*, projects: QuerySet[Project], with_chats: bool) -> DeletionResult:
    chats, make_also = _projects_parts(projects, with_chats=with_chats)
    plan = _plan(chats, lock=False)
    return _run(plan, DeletionContext(None, "preview"), dry_run=True, also=make_also(plan))


def _collections_plan(collections: QuerySet[Collection]) -> _Plan:
    return _Plan(
        chat_ids=[],
        collection_ids=list(collections.order_by("id").values_list("id", flat=True)),
        delete_chat_files=False,
        by_type=Counter(),
    )


@transaction.atomic
def collections_delete(
    *, collections: QuerySet[Collection], ctx: DeletionContext
) -> DeletionResult:
    """Delete collections with their files. Chats linked to them stay (link set NULL)."""
    return _run(_collections_plan(collections.select_for_update()), ctx)


def collections_delete_preview(*, collections: QuerySet[Collection]) -> DeletionResult:
    return _run(_collections_plan(collections), DeletionContext(None, "preview"), dry_run=True)


def _users_parts(
    users: QuerySet[User], *, tenant_ids: Sequence[int] = ()
) -> tuple[QuerySet[Chat], Callable[[], list[int]], Callable[[_Plan], Also]]:
    """``tenant_ids``: tenants deleted with the users, whose global collections go too."""
    user_ids = list(users.order_by("id").values_list("id", flat=True))

    def collections() -> list[int]:
        owned = Collection.objects.filter(Q(owner_id__in=user_ids) | Q(tenant_id__in=tenant_ids))
        return list(owned.order_by("id").values_list("id", flat=True))

    def make_also(plan: _Plan) -> Also:
        def also(dry_run: bool) -> tuple[Counter[str], QuerySet[File] | None]:
            return users_also(plan, dry_run)

        return also

    def users_also(plan: _Plan, dry_run: bool) -> tuple[Counter[str], QuerySet[File] | None]:
        # Whatever the users own that the chat/collection plan did not cover.
        counts: Counter[str] = Counter()
        links = ProjectChat.objects.filter(project__owner_id__in=user_ids)
        projects = Project.objects.filter(owner_id__in=user_ids)
        tokens = AccessToken.objects.filter(user_id__in=user_ids)
        everything_left = File.objects.filter(owner_id__in=user_ids)
        if dry_run:
            files = (
                everything_left.exclude(collection__owner_id__in=user_ids)
                .exclude(collection__tenant_id__in=tenant_ids)
                .exclude(chat__owner_id__in=user_ids, collection__isnull=True)
            )
            counts["files"] += files.count()
            # Links of the plan's chats go with them (counted with the chats).
            if plan.chat_ids:
                links = links.exclude(chat_id__in=_in_value(plan.chat_ids))
            counts["links"] += links.count()
            counts["projects"] += projects.count()
            counts["access_tokens"] += tokens.count()
            counts["users"] = len(user_ids)
            return counts, everything_left
        # Tokens go by the database's cascade with their user: counted first.
        counts["access_tokens"] += tokens.count()
        _queue_blobs(everything_left)  # removed after commit, with the plan's blobs
        counts["files"] += everything_left.delete()[0]
        counts["links"] += links.delete()[0]
        counts["projects"] += projects.delete()[0]
        deleted = User.objects.filter(id__in=user_ids).delete()[1]
        counts["users"] = deleted.get(User._meta.label, 0)
        return counts, None

    return Chat.objects.filter(owner_id__in=user_ids), collections, make_also


def users_delete(
    *, users: QuerySet[User], ctx: DeletionContext, progress: Progress | None = None
) -> DeletionResult:
    """Delete users and everything they own, blobs included; batched when large."""
    chats, collections, make_also = _users_parts(users)
    return _perform(
        chats, ctx, extra_collections=collections, make_also=make_also, progress=progress
    )


def users_delete_preview(*, users: QuerySet[User]) -> DeletionResult:
    chats, collections, make_also = _users_parts(users)
    plan = _plan(chats, lock=False)
    plan.collection_ids = collections()
    return _run(plan, DeletionContext(None, "preview"), dry_run=True, also=make_also(plan))


def _tenants_parts(
    tenants: QuerySet[Tenant],
) -> tuple[QuerySet[Chat], Callable[[], list[int]], Callable[[_Plan], Also]]:
    tenant_ids = list(tenants.order_by("id").values_list("id", flat=True))
    chats, collections, make_user_also = _users_parts(
        User.objects.filter(tenant_id__in=tenant_ids), tenant_ids=tenant_ids
    )

    def make_also(plan: _Plan) -> Also:
        user_also = make_user_also(plan)

        def also(dry_run: bool) -> tuple[Counter[str], QuerySet[File] | None]:
            # The users first (``User.tenant`` is DO_NOTHING), then keys and tenants.
            counts, files = user_also(dry_run)
            keys = ApiKey.objects.filter(tenant_id__in=tenant_ids)
            rows = Tenant.objects.filter(id__in=tenant_ids)
            if dry_run:
                counts["api_keys"] += keys.count()
                counts["tenants"] += rows.count()
            else:
                counts["api_keys"] += keys.delete()[0]
                counts["tenants"] += rows.delete()[0]
            return counts, files

        return also

    return chats, collections, make_also


def tenants_delete(
    *, tenants: QuerySet[Tenant], ctx: DeletionContext, progress: Progress | None = None
) -> DeletionResult:
    """Delete tenants: their users with everything those own, their global collections
    with their files, their API keys, the rows."""
    chats, collections, make_also = _tenants_parts(tenants)
    return _perform(
        chats, ctx, extra_collections=collections, make_also=make_also, progress=progress
    )


def tenants_delete_preview(*, tenants: QuerySet[Tenant]) -> DeletionResult:
    chats, collections, make_also = _tenants_parts(tenants)
    plan = _plan(chats, lock=False)
    plan.collection_ids = collections()
    return _run(plan, DeletionContext(None, "preview"), dry_run=True, also=make_also(plan))
