"""The SQL of a deletion: id sets, temporary tables, and every database-specific branch.

A deletion names what it deletes by *id sets* (:data:`IdSet`): a list of ids for a
small selection, or a :class:`Staged` selection held by the database in a
per-connection temporary table. :func:`in_ids` turns either into the value of an
``__in`` lookup, and :func:`where_in` into a condition of a hand-written statement —
the one place that decides how ids travel to the database. Every
``connection.vendor`` check of the deletion package is in this module.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import EmptyResultSet
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection
from django.db.models import Model, QuerySet
from django.db.models.expressions import RawSQL

from chats.deletion.result import TYPE_KEYS
from chats.models import Chat
from collections_app.models import File

#: Up to this many chats, a plan keeps their ids in a list: one locking SELECT
#: instead of creating, filling and analysing the temporary table (on PostgreSQL the
#: list then travels as one array parameter). 100 at first; measured again once the
#: cascade was no longer counted beforehand (``bench --scale small,mid,large``): with
#: 1,000, p3 at 200 chats took 29 ms against 33, at 500 chats 57 against 58, p2's
#: 1,000-chat batch 63 against 64 ms, its peak 0.44 MB against 0.38.
SMALL_SELECTION = 1000

#: The same for a selection of ids alone (:func:`stage_ids`: the collections going
#: with the chats). A thousand ids are one array parameter of 8 KB; p3 at the large
#: scale (200 collections) spent five statements staging them and four more queuing
#: their files' blobs through a scratch table.
SMALL_ID_SELECTION = 1000

#: Temporary tables of a deletion (per connection; emptied before each use).
SCRATCH_CHATS = "neptun_deletion_chats"
SCRATCH_ALL = "neptun_deletion_all"
SCRATCH_ALL_COLLECTIONS = "neptun_deletion_all_collections"
SCRATCH_COLLECTIONS = "neptun_deletion_collections"
SCRATCH_BLOBS = "neptun_deletion_blobs"


def _postgres() -> bool:
    return connection.vendor == "postgresql"


class Staged:
    """Selected ids held by the database in a per-connection temporary table.

    Every statement of a deletion refers to them as ``IN (SELECT id FROM …)``: the
    SQL stays the same size whatever the number of rows, and Python holds none of
    the ids (memory does not grow with the selection). A *window* of a staged
    selection (``after`` < id <= ``upto``, see :func:`lock_window`) is one too: a
    large purge's batch, named without staging its ids again.
    """

    def __init__(
        self, table: str, count: int, *, after: int | None = None, upto: int | None = None
    ) -> None:
        self.table = table
        self.count = count
        self.after = after
        self.upto = upto

    def __len__(self) -> int:
        return self.count

    def _select(self) -> tuple[str, tuple[int, ...]]:
        if self.after is None or self.upto is None:
            return f"SELECT id FROM {self.table}", ()  # noqa: S608 - fixed name
        return f"SELECT id FROM {self.table} WHERE id > %s AND id <= %s", (  # noqa: S608
            self.after,
            self.upto,
        )

    def subquery(self) -> RawSQL:
        return RawSQL(*self._select())  # noqa: S611 - fixed table name, int params

    def ids(self) -> list[int]:
        select, params = self._select()
        with connection.cursor() as cursor:
            cursor.execute(f"{select} ORDER BY id", params)
            return [row[0] for row in cursor.fetchall()]


#: Ids of a plan: an explicit list (small, e.g. one batch of the sweeper) or staged.
IdSet = Sequence[int] | Staged


@dataclass
class Tallied:
    """What the statement that selects (and locks) a deletion's chats learns of them
    on the way, at no extra statement."""

    #: their conversation types (the record's ``by_type``)
    by_type: Counter[str] = field(default_factory=Counter)
    #: the sum of their ``Chat.message_count``: whether a purge is large
    messages: int = 0


def chunks(ids: Sequence[int]) -> Iterator[Sequence[int]]:
    """Slices of at most ``DELETION_CHUNK_SIZE`` ids (the bound of one statement)."""
    size = settings.DELETION_CHUNK_SIZE
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def id_sets(ids: IdSet) -> Iterator[IdSet]:
    """``ids`` as the sets one statement each takes: the staged table whole, or
    chunks of a list. Nothing for an empty set."""
    if isinstance(ids, Staged):
        if len(ids):
            yield ids
        return
    yield from chunks(ids)


def as_list(ids: IdSet) -> list[int]:
    return ids.ids() if isinstance(ids, Staged) else list(ids)


def in_ids(ids: IdSet) -> Sequence[int] | RawSQL:
    """The value of an ``__in`` lookup covering ``ids``.

    Staged: our subquery. A list on PostgreSQL: one array parameter
    (``IN (SELECT unnest(%s::bigint[]))``), so a thousand ids cost one parameter
    instead of a thousand placeholders, in the SQL text and in the driver's memory.
    Elsewhere the list itself (one placeholder per id).
    """
    if isinstance(ids, Staged):
        return ids.subquery()
    ids = list(ids)
    if _postgres() and len(ids) > 1:
        return RawSQL("SELECT unnest(%s::bigint[])", (ids,))
    return ids


def where_in(column: str, ids: IdSet) -> tuple[str, list[Any]]:
    """The SQL condition "``column`` is one of ``ids``" and its parameters, for a
    hand-written statement: :func:`in_ids` rendered as SQL."""
    value = in_ids(ids)
    if isinstance(value, RawSQL):
        return f"{column} IN ({value.sql})", list(value.params)
    return f"{column} IN ({', '.join(['%s'] * len(value))})", list(value)


def id_is_one_of(column: str, ids: Sequence[int]) -> tuple[str, list[Any]]:
    """ "``column`` is one of ``ids``" for a hand-written statement over a listed
    batch, and its parameters. On PostgreSQL ``column = ANY(%s)`` with one array: an
    index lookup per id, where ``IN (SELECT unnest(…))`` was once planned as a scan
    of the table per batch (60 ms a batch of 1,000 collections at the large scale) and
    a thousand placeholders cost 13 ms of planning. Elsewhere one placeholder an id."""
    if _postgres():
        return f"{column} = ANY(%s)", [list(ids)]
    return f"{column} IN ({', '.join(['%s'] * len(ids))})", list(ids)


def _query_sql(queryset: QuerySet[Any]) -> tuple[str, tuple[Any, ...]] | None:
    """The SQL of a queryset, or ``None`` when it selects nothing by construction."""
    try:
        sql, params = queryset.query.sql_with_params()
    except EmptyResultSet:  # e.g. Chat.objects.none()
        return None
    return sql, tuple(params)


def stage_chats(
    chats: QuerySet[Chat],
    *,
    lock: bool,
    table: str = SCRATCH_CHATS,
    small_ok: bool | None = None,
    tally: Tallied | None = None,
) -> IdSet:
    """The ids of ``chats``, locking the rows if asked: a list, or staged in ``table``.

    A selection of at most ``SMALL_SELECTION`` chats is returned as a list, read and
    locked by one ordered ``SELECT … FOR UPDATE … LIMIT SMALL_SELECTION + 1`` (more
    rows than that: staged after all). ``small_ok``: the caller knows the selection
    is small (``True``: one chat, a short list of ids) or larger (``False``: staged
    at once); ``None``, not known: a count up to ``SMALL_SELECTION + 1``, without
    locks, decides first. Measured at 2,000 chats, locking 1,001 of them only to
    find the selection too large cost 3.4 ms, more than the count (0.5 ms).

    With ``tally``, the chats' conversation types and message counters are added up
    into it by the same statement that selects them (no extra query).

    Locks are taken in id order (``INSERT … SELECT … ORDER BY id FOR UPDATE``), so
    concurrent deletions of overlapping sets queue instead of deadlocking.
    Re-selecting by id keeps joins or DISTINCT of the caller's queryset away from
    ``FOR UPDATE`` (PostgreSQL refuses it with DISTINCT).
    """
    selected = Chat.objects.filter(pk__in=chats.order_by().values("pk")).order_by("id")
    if small_ok is None:
        small_ok = selected[: SMALL_SELECTION + 1].count() <= SMALL_SELECTION
    if lock:
        selected = selected.select_for_update()
    if small_ok:
        first = list(
            selected.values_list("id", "conversation_type", "message_count")[: SMALL_SELECTION + 1]
        )
        if len(first) <= SMALL_SELECTION:
            if tally is not None:
                tally.by_type.update(TYPE_KEYS.get(kind, "null") for _, kind, _ in first)
                tally.messages += sum(n for _, _, n in first)
            return [chat_id for chat_id, _, _ in first]
    return stage_table(chats, lock=lock, table=table, tally=tally)


def stage_table(
    chats: QuerySet[Chat],
    *,
    lock: bool,
    table: str = SCRATCH_CHATS,
    tally: Tallied | None = None,
) -> Staged:
    """The ids of ``chats`` staged in ``table`` whatever their number (see
    :func:`stage_chats`, which calls this for a selection too large for a list)."""
    selected = Chat.objects.filter(pk__in=chats.order_by().values("pk")).order_by("id")
    if lock:
        selected = selected.select_for_update()
    query = _query_sql(selected.values_list("id", "conversation_type", "message_count"))
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {table} "
            "(id bigint PRIMARY KEY, kind varchar(32), messages bigint)"
        )
        cursor.execute(f"DELETE FROM {table}")  # noqa: S608
        if query is None:
            return Staged(table, 0)
        sql, params = query
        rows: list[tuple[str | None, int, int | None]] | None = None
        if _postgres() and tally is not None:
            # Insert and tally in one statement; the count is the tally's sum.
            cursor.execute(
                f"WITH staged AS (INSERT INTO {table} (id, kind, messages) {sql} "  # noqa: S608
                "RETURNING kind, messages) "
                "SELECT kind, COUNT(*), SUM(messages) FROM staged GROUP BY kind",
                params,
            )
            rows = cursor.fetchall()
            count = sum(n for _, n, _ in rows)
        else:
            cursor.execute(f"INSERT INTO {table} (id, kind, messages) {sql}", params)
            count = cursor.rowcount
            if tally is not None:
                cursor.execute(
                    f"SELECT kind, COUNT(*), SUM(messages) FROM {table} GROUP BY kind"  # noqa: S608
                )
                rows = cursor.fetchall()
        if tally is not None and rows is not None:
            tally.by_type.update({TYPE_KEYS.get(kind, "null"): n for kind, n, _ in rows})
            tally.messages += sum(int(m or 0) for _, _, m in rows)
        _analyze(cursor, table)
    return Staged(table, count)


def move_staged(staged: Staged, *, table: str) -> Staged:
    """A staged selection moved to ``table`` of its own (renamed: no rows copied), so
    that staging again into its old table — another plan on this connection — cannot
    change it. A large purge keeps its first chunk's selection so for its batches."""
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {table}")
        cursor.execute(f"ALTER TABLE {staged.table} RENAME TO {table}")
    return Staged(table, staged.count)


def stage_ids(queryset: QuerySet[Any], *, table: str) -> IdSet:
    """The ids a queryset selects (ordered): a list up to ``SMALL_ID_SELECTION``, else
    staged in ``table`` like the chats, so memory does not grow with their number."""
    ordered = queryset.order_by("id")
    first = list(ordered.values_list("id", flat=True)[: SMALL_ID_SELECTION + 1])
    if len(first) <= SMALL_ID_SELECTION:
        return first
    query = _query_sql(ordered.values_list("id"))
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TEMP TABLE IF NOT EXISTS {table} (id bigint PRIMARY KEY)")
        cursor.execute(f"DELETE FROM {table}")  # noqa: S608
        if query is None:
            return Staged(table, 0)
        sql, params = query
        cursor.execute(f"INSERT INTO {table} (id) {sql}", params)
        count = cursor.rowcount
        _analyze(cursor, table)
    return Staged(table, count)


def _analyze(cursor: Any, table: str) -> None:
    if _postgres():
        # Temporary tables have no statistics until analysed; without them the
        # planner may scan a whole child table instead of using its index.
        cursor.execute(f"ANALYZE {table}")


def lock_window(staged: Staged, *, after: int, size: int, tally: Tallied) -> Staged | None:
    """The next ``size`` staged chats above id ``after`` as a window of ``staged``,
    locked in id order, their conversation types tallied into ``tally``; ``None``
    when none is left.

    Two statements, whatever the window's size: its bounds, then the lock with the
    tally. Staging each batch's ids in a table of their own cost six (p3 at 1M
    messages: 21 batches, 0.4 s of creating, filling and analysing), and a list of
    500 placeholders in the locking statement.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT MAX(id), COUNT(*) FROM (SELECT id FROM {staged.table} "  # noqa: S608
            "WHERE id > %s ORDER BY id LIMIT %s) w",
            [after, size],
        )
        row = cursor.fetchone()
    if row is None or not row[1]:
        return None
    window = Staged(staged.table, int(row[1]), after=after, upto=int(row[0]))
    locked = (
        Chat.objects.filter(id__in=window.subquery())
        .order_by("id")
        .select_for_update()
        .values_list("id", "conversation_type")
    )
    query = _query_sql(locked)
    if query is None:
        return window
    select, params = query
    with connection.cursor() as cursor:
        # Locks the window's rows in id order; a chat deleted meanwhile is just absent.
        cursor.execute(
            f"SELECT conversation_type, COUNT(*) FROM ({select}) AS locked "  # noqa: S608
            "GROUP BY conversation_type",
            params,
        )
        tally.by_type.update({TYPE_KEYS.get(kind, "null"): n for kind, n in cursor.fetchall()})
    return window


def select_row(columns: Sequence[str], params: Sequence[Any]) -> list[Any]:
    """``SELECT a, b, …`` of scalar subqueries: several counts in one statement."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(columns)}", list(params))
        row = cursor.fetchone()
    return list(row) if row is not None else []


#: A column of a counting statement (PostgreSQL): whether the server counts row
#: changes (``track_counts``, on by default), so :func:`deleted_so_far` means something.
TRACK_COUNTS_COLUMN = "current_setting('track_counts')::boolean"


def counts_deletions() -> bool:
    """Whether a deletion may take its cascade counts from :func:`deleted_so_far`
    (PostgreSQL; the counting statement also checks ``TRACK_COUNTS_COLUMN``)."""
    return _postgres()


def deleted_so_far_columns(tables: Sequence[str]) -> list[str]:
    """Columns reading how many rows of each table this transaction has deleted so far
    (``pg_stat_get_xact_tuples_deleted``: the server's own tally, cascades included).
    Read before and after one ``DELETE``, the difference is what it deleted."""
    return [f"pg_stat_get_xact_tuples_deleted('{table}'::regclass)" for table in tables]


def deleted_so_far(tables: Sequence[str]) -> list[int]:
    """The values of :func:`deleted_so_far_columns`, in one statement."""
    return [int(n) for n in select_row(deleted_so_far_columns(tables), [])]


@dataclass
class Tally:
    """Counts a chat ``DELETE``'s cascade has made and nobody has read yet: for each
    kind, the rows of its table deleted since ``before`` (:func:`deleted_so_far`).
    The statement that writes the deletion's record reads them
    (:func:`counts_with_tally`), so the read costs no statement of its own."""

    kinds: list[str]
    tables: list[str]
    before: list[int]


def counts_with_tally(counts: dict[str, Any], tally: Tally) -> RawSQL:
    """The JSON value ``counts`` with each kind of ``tally`` raised by the rows its
    table lost since ``tally.before``, computed by the server as the value is
    written (kinds and tables are ours, not input)."""
    parts: list[str] = []
    params: list[Any] = [json.dumps(counts, cls=DjangoJSONEncoder)]
    for kind, table, before in zip(tally.kinds, tally.tables, tally.before, strict=True):
        parts.append(
            f"'{kind}', %s::bigint + pg_stat_get_xact_tuples_deleted('{table}'::regclass) "
            "- %s::bigint"
        )
        params += [int(counts.get(kind, 0)), before]
    return RawSQL(f"(%s::jsonb || jsonb_build_object({', '.join(parts)}))", params)  # noqa: S611


def distinct_ids(column: str) -> str:
    """An aggregate of the distinct values of ``column``, comma-separated."""
    if _postgres():
        return f"string_agg(DISTINCT {column}::text, ',')"
    return f"group_concat(DISTINCT {column})"


def set_timeouts() -> None:
    """PostgreSQL's lock and statement timeouts for the current transaction only
    (``set_config(…, true)`` is ``SET LOCAL``); other databases have none."""
    if not _postgres():
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT set_config('lock_timeout', %s, true), "
            "set_config('statement_timeout', %s, true)",
            [settings.DELETION_LOCK_TIMEOUT, settings.DELETION_STATEMENT_TIMEOUT],
        )


# --------------------------------------------------------------------------- file rows


def create_blob_queue() -> None:
    """The per-connection queue of blob names (a no-op once it exists).

    Names noted there move to the outbox with the record, so Python memory does not
    grow with the number of files deleted. The table is transactional: if the
    deletion rolls back, so do the names.
    """
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TEMP TABLE IF NOT EXISTS {SCRATCH_BLOBS} (name varchar(500))")


def queue_blobs(files: QuerySet[File]) -> None:
    """Note the blob names of ``files`` in the queue (before the rows are deleted)."""
    query = _query_sql(files.exclude(blob="").values_list("blob"))
    if query is None:
        return
    create_blob_queue()
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {SCRATCH_BLOBS} (name) {query[0]}", query[1])


#: The outbox columns both of its hand-written inserts fill, in their order.
OUTBOX_COLUMNS = (
    "(name, record_id, attempts, not_before, claimed_until, last_error, failed, "
    "counted, created_at)"
)


def insert_outbox_names(
    *,
    table: str,
    record_id: int,
    names: Sequence[str],
    now: Any,
    lease: Any,
    counted: bool,
) -> list[tuple[int, str]] | None:
    """Outbox rows for ``names`` in one statement with the names as one array
    parameter (PostgreSQL: ``INSERT … SELECT … FROM unnest(%s::text[]) RETURNING``);
    their ids and names. ``None`` elsewhere: the caller writes them with the ORM."""
    if not _postgres():
        return None
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} {OUTBOX_COLUMNS} "  # noqa: S608 - table name is ours
            "SELECT n, %s, 0, %s, %s, '', false, %s, %s FROM unnest(%s::text[]) AS n "
            "RETURNING id, name",
            [record_id, now, lease, counted, now, list(names)],
        )
        return [(int(row_id), str(name)) for row_id, name in cursor.fetchall()]


def insert_outbox_from_table(
    *, outbox: str, files: str, table: str, params: Sequence[Any]
) -> tuple[int, int]:
    """Move the distinct blob names of scratch ``table`` that no remaining file
    references into the outbox (``params``: record id, not-before, lease end,
    failed, counted, created-at) and empty the table; how many rows, and an id every
    new row is above (PostgreSQL: the statement returns its smallest; elsewhere the
    largest id before it)."""
    insert = (
        f"INSERT INTO {outbox} {OUTBOX_COLUMNS} "  # noqa: S608 - table names are ours
        f"SELECT DISTINCT name, %s, 0, %s, %s, '', %s, %s, %s FROM {table} "
        "WHERE name IS NOT NULL AND name <> '' "
        f"AND NOT EXISTS (SELECT 1 FROM {files} f WHERE f.blob = {table}.name)"
    )
    with connection.cursor() as cursor:
        if _postgres():
            cursor.execute(
                f"WITH moved AS ({insert} RETURNING id) "  # noqa: S608 - table names are ours
                "SELECT COUNT(*), MIN(id) FROM moved",
                params,
            )
            count, first = cursor.fetchone() or (0, None)
            after = int(first) - 1 if first is not None else 0
        else:
            cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {outbox}")  # noqa: S608
            after = int(cursor.fetchone()[0])
            cursor.execute(insert, params)
            count = cursor.rowcount
        cursor.execute(f"DELETE FROM {table}")  # noqa: S608
    return int(count), after


def delete_returning_ids(table: str, ids: Sequence[int]) -> set[int]:
    """Delete the rows of ``table`` with these ids; the ids that were still there (a
    row another process deleted first is not returned). One array parameter on
    PostgreSQL (:func:`id_is_one_of`), chunks of ``DELETION_CHUNK_SIZE`` elsewhere."""
    finished: set[int] = set()
    with connection.cursor() as cursor:
        for part in chunks(ids):
            among, params = id_is_one_of("id", part)
            cursor.execute(f"DELETE FROM {table} WHERE {among} RETURNING id", params)  # noqa: S608
            finished.update(row_id for (row_id,) in cursor.fetchall())
    return finished


def delete_files_returning(where: str, params: Sequence[Any]) -> tuple[int, list[str]]:
    """Delete the files matching ``where``; their count and the blob names no other
    row references.

    One statement: ``DELETE … RETURNING blob`` with, for each row, whether a file
    that stays (one the same condition does not select: ``IS NOT TRUE``, so a NULL
    chat or collection counts as staying) still references its blob.
    """
    table = File._meta.db_table
    sql = (
        f"DELETE FROM {table} WHERE {where} "  # noqa: S608
        f"RETURNING blob, EXISTS (SELECT 1 FROM {table} o "
        f"WHERE o.blob = {table}.blob AND ({where}) IS NOT TRUE)"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, *params])
        rows = cursor.fetchall()
    return len(rows), sorted({name for name, in_use in rows if name and not in_use})


def delete_files_queued(
    where: str, params: Sequence[Any], files: QuerySet[File]
) -> tuple[int, int | None]:
    """Delete the files matching ``where`` (``files`` is the same set as a queryset),
    noting their blob names in the queue.

    Returns the number of files and of names queued (``None``: not known). On
    PostgreSQL one statement deletes the rows and queues the names (``WITH gone
    AS (DELETE … RETURNING blob) INSERT …``).
    """
    if not _postgres():
        queue_blobs(files)
        return files.delete()[0], None
    create_blob_queue()
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH gone AS (DELETE FROM {File._meta.db_table} WHERE {where} "  # noqa: S608
            "RETURNING blob), "
            f"queued AS (INSERT INTO {SCRATCH_BLOBS} (name) "
            "SELECT blob FROM gone WHERE blob <> '') "
            "SELECT COUNT(*), COUNT(*) FILTER (WHERE blob <> '') FROM gone",
            list(params),
        )
        row = cursor.fetchone()
    if row is None:
        return 0, 0
    return int(row[0]), int(row[1])


def delete_rows(model: type[Model], ids: IdSet) -> int:
    """Delete the rows of ``model`` with these ids (their cascades follow)."""
    deleted = 0
    for part in id_sets(ids):
        deleted += model._default_manager.filter(id__in=in_ids(part)).delete()[0]
    return deleted
