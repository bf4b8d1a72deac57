"""The engine: one loop that deletes — or, in a dry run, counts — what a scope covers.

A deletion is a :class:`~chats.deletion.rules.Scope` (what goes with what, from
:mod:`chats.deletion.rules`) run by :func:`run` as a sequence of chunks; each chunk
is one transaction and says whether more work remains (as Sentry's deletion tasks
do). A chunk:

1. *Locks*: the chats to delete (``SELECT … FOR UPDATE`` in id order, so concurrent
   deletions of overlapping sets queue instead of deadlocking; the same statement
   tallies their conversation types), then the collections and files going with
   them. Only ids are read, never rows of messages. More than ``SMALL_SELECTION``
   chats are staged in a temporary table instead of a list (:mod:`chats.deletion.sql`).
2. *Counts* what goes by cascade — messages, project links, socket records — and
   the chats' own files, in one statement, while the chats are locked. On
   PostgreSQL a deletion does not count the cascade beforehand: that statement
   reads the server's tally of rows deleted so far in the transaction, and the
   chat ``DELETE`` is followed by the same read (:func:`count_children`).
3. *Executes* set-based: the files first (their blob names are needed), then the
   chats, whose messages, links and socket records go by the database's
   ``ON DELETE CASCADE`` (``File.chat`` becomes NULL for a file that stays in a
   collection), then the collections, then the scope's other rows (projects, users).
4. *Records*: the ``DeletionRecord`` (:mod:`chats.deletion.audit`) and one outbox
   row per blob to remove (:mod:`chats.deletion.effects`), in the same transaction.
   After commit the outbox is carried out and live sockets of the deleted chats are
   told to close; a blob storage refuses is reported and retried by the worker.

A small deletion is one chunk, inside the caller's transaction when one is open.
A large purge — more than ``DELETION_BATCH_THRESHOLD`` messages, with no caller's
transaction open — is many: the first chunk finds it large and stages the whole
selection; each next chunk deletes a window of about ``DELETION_BATCH_MESSAGES``
messages (at most ``DELETION_BATCH_CHATS`` chats) of it in a short transaction with
PostgreSQL lock and statement timeouts; the last deletes the collections and other
rows, once every chat that linked them is gone. The decision takes no statement of
its own: on PostgreSQL it is the chats' ``Chat.message_count`` (kept by a trigger on
the messages table in every writer's own transaction, see the field's comment),
summed by the statement that locks them, and the batches are then sized by what the
previous ones deleted; elsewhere step 2 counts the messages. Either way a number
that is exact, not an estimate. The trade-off: a large purge is not atomic as a
whole. If it stops halfway, the chunks already committed stay deleted (each one
complete: a chat never loses only part of its messages), the record says how far it
got, and running the same deletion again finishes the job.

A dry run is the same first chunk counting instead of executing (no lock, no
record): a preview's counts, blobs included, are what the deletion then reports.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet

from chats.deletion import audit, effects, rules, sql
from chats.deletion.result import DeletionContext, DeletionResult, Progress
from chats.deletion.rules import Also, Plan, Scope
from chats.deletion.sql import IdSet
from chats.models import Chat, ChatConnection
from collections_app.models import Collection, File


@dataclass
class Children:
    """What goes with the chats, counted before they are deleted (:func:`plan`)."""

    #: messages, links and connections (socket records): :data:`rules.CASCADED`
    counts: Counter[str]
    #: files uploaded in the chats that belong to no collection (deleted with them)
    own_files: int = 0
    #: sockets whose heartbeat is recent enough (asked for with ``live_since``)
    live_connections: int = 0
    #: chats with socket records (to notify after commit); ``None``: not gathered
    connected: list[int] | None = None
    #: files in the plan's collections, for a listed few; ``None``: not counted
    collection_files: int | None = None
    #: PostgreSQL only: rows of the :data:`rules.CASCADED` tables deleted so far in
    #: this transaction (``pg_stat_get_xact_tuples_deleted``), read before the chats
    #: go; then ``counts`` holds no cascade counts, :func:`execute` takes them from
    #: the same figures read after the chat ``DELETE`` (see :func:`count_children`)
    deleted_before: list[int] | None = None
    #: with ``deleted_before``: the messages counted up to the bound asked for
    messages_at_least: int = 0
    #: with ``deleted_before``, for a staged selection: whether any chat has socket
    #: records (so the chats to notify are looked up only then)
    any_connections: bool = True

    @property
    def messages(self) -> int:
        """Messages going (at least, when counted up to a bound only)."""
        if self.deleted_before is not None:
            return self.messages_at_least
        return self.counts["messages"]


@dataclass
class Planned:
    """A plan with the counts taken while its rows are locked."""

    plan: Plan
    children: Children


def count_children(
    chat_ids: IdSet,
    *,
    live_since: Any = None,
    collection_ids: IdSet = (),
    from_deletion: bool = False,
    messages_bound: int | None = None,
    kept_messages: int | None = None,
) -> Children:
    """Messages, links, socket records and own files of the chats: one statement
    per id set.

    Messages, links and socket records go by the database's cascade when their
    chat is deleted, so they are counted here, before, while the chats are locked
    (a message or link cannot be added to a locked chat: its foreign-key check
    waits for the lock). With ``live_since``, also the sockets whose heartbeat is
    at least that recent. For a listed selection (at most ``SMALL_SELECTION``
    chats) the same statement names the chats that have socket records, and
    counts the files of listed ``collection_ids`` (the collections going too).

    ``from_deletion`` (a deletion, not a preview): on PostgreSQL with
    ``track_counts`` on, the cascade is not counted here but by the deletion
    itself — the statement reads how many rows of those tables this transaction
    has deleted so far, :func:`execute` reads it again after the chat ``DELETE``
    and the difference is exact (measured at 1M messages: both reads under 1 ms,
    against 0.9-1.0 s for the count). Only the messages are counted, and only up
    to ``messages_bound`` rows (whether a purge is large: ``LIMIT threshold + 1``
    costs 40 % of the full count at 1M), when a bound is given — or not at all
    when ``kept_messages``, the chats' ``message_count`` summed by the statement that
    locked them, is known: then that is the figure (p3 at 200,000 messages: 9 ms of
    counting saved). Elsewhere, or with ``track_counts`` off, everything is counted
    as for a preview.
    """
    if from_deletion and sql.counts_deletions():
        bound = None if kept_messages is not None else messages_bound
        children = _count_with_stats(
            chat_ids, live_since=live_since, collection_ids=collection_ids, bound=bound
        )
        if children is not None:
            if kept_messages is not None:
                children.messages_at_least = kept_messages
            return children
    children = Children(Counter(), connected=_listed(chat_ids))
    tables = {kind: model._meta.db_table for kind, model in rules.CASCADED.items()}
    for ids in sql.id_sets(chat_ids):
        among, in_params = sql.where_in("chat_id", ids)
        # Table names come from the models; ids are parameters or our subquery.
        columns = [
            f"(SELECT COUNT(*) FROM {table} WHERE {among})"  # noqa: S608
            for table in tables.values()
        ]
        params = in_params * len(columns)
        row = _count_files_and_sockets(
            children, among, in_params, columns, params, live_since, collection_ids
        )
        children.counts.update(dict(zip(tables, (int(n) for n in row), strict=True)))
    return children


def _count_with_stats(
    chat_ids: IdSet, *, live_since: Any, collection_ids: IdSet, bound: int | None
) -> Children | None:
    """:func:`count_children` for a deletion on PostgreSQL: the deleted-rows figures
    before the chats go (with the same statement's other counts), and the messages up
    to ``bound``. ``None`` when ``track_counts`` turns out to be off."""
    children = Children(Counter(), connected=_listed(chat_ids))
    messages = rules.CASCADED["messages"]._meta.db_table
    connections = ChatConnection._meta.db_table
    first = True
    for ids in sql.id_sets(chat_ids):
        among, in_params = sql.where_in("chat_id", ids)
        columns: list[str] = []
        params: list[Any] = []
        if first:
            columns += [*sql.deleted_so_far_columns(_cascaded_tables()), sql.TRACK_COUNTS_COLUMN]
        if bound is not None:
            columns.append(
                f"(SELECT COUNT(*) FROM (SELECT 1 FROM {messages} "  # noqa: S608
                f"WHERE {among} LIMIT %s) bounded)"
            )
            params += [*in_params, bound]
        staged = children.connected is None
        if staged:
            columns.append(f"EXISTS (SELECT 1 FROM {connections} WHERE {among})")  # noqa: S608
            params += in_params
        row = _count_files_and_sockets(
            children, among, in_params, columns, params, live_since, collection_ids
        )
        if staged:
            children.any_connections = bool(row.pop())
        if bound is not None:
            children.messages_at_least += int(row.pop())
        if first:
            if not row.pop():
                return None  # track_counts is off: nothing to read after the DELETE
            children.deleted_before = [int(n) for n in row]
            first = False
    if children.deleted_before is None:
        children.deleted_before = [0] * len(rules.CASCADED)  # no chats: nothing deleted
    return children


def _listed(chat_ids: IdSet) -> list[int] | None:
    """``Children.connected`` to start with: gathered for a listed selection only."""
    return None if isinstance(chat_ids, sql.Staged) else []


def _cascaded_tables() -> list[str]:
    return [model._meta.db_table for model in rules.CASCADED.values()]


def _count_files_and_sockets(
    children: Children,
    among: str,
    in_params: list[Any],
    columns: list[str],
    params: list[Any],
    live_since: Any,
    collection_ids: IdSet,
) -> list[Any]:
    """Run one counting statement: ``columns`` first, then the chats' own files, the
    live sockets, the chats with socket records and the collections' files, which
    go into ``children``; returns the values of ``columns``."""
    connections = ChatConnection._meta.db_table
    files = File._meta.db_table
    columns = [*columns]
    params = [*params]
    columns.append(
        f"(SELECT COUNT(*) FROM {files} "  # noqa: S608
        f"WHERE {among} AND collection_id IS NULL)"
    )
    params += in_params
    if live_since is not None:
        columns.append(
            f"(SELECT COUNT(*) FROM {connections} "  # noqa: S608
            f"WHERE {among} AND last_seen_at >= %s)"
        )
        params += [*in_params, live_since]
    if children.connected is not None:
        columns.append(
            f"(SELECT {sql.distinct_ids('chat_id')} FROM {connections} "  # noqa: S608
            f"WHERE {among})"
        )
        params += in_params
    listed_collections: IdSet = (
        collection_ids
        if children.collection_files is None and not isinstance(collection_ids, sql.Staged)
        else ()
    )
    if listed_collections:
        in_collections, collection_params = sql.where_in("collection_id", listed_collections)
        columns.append(f"(SELECT COUNT(*) FROM {files} WHERE {in_collections})")  # noqa: S608
        params += collection_params
    row = sql.select_row(columns, params)
    if listed_collections:
        children.collection_files = int(row.pop())
    if children.connected is not None:
        connected = row.pop()
        if connected:
            children.connected += [int(chat_id) for chat_id in str(connected).split(",")]
    if live_since is not None:
        children.live_connections += int(row.pop())
    children.own_files += int(row.pop())
    return row


def plan(
    *,
    scope: Scope,
    lock: bool = True,
    live_since: Any = None,
    table: str = sql.SCRATCH_CHATS,
    messages_bound: int | None = None,
) -> Planned:
    """The ids the scope covers (locked with ``lock``) and what goes with them,
    counted. ``live_since``: also count the sockets at least that fresh.

    A plan that locks is for a deletion: what its cascade deletes may then be
    counted by the deletion itself, the messages only up to ``messages_bound``
    (see :func:`count_children`); a plan that does not lock counts everything.
    """
    tally = sql.Tallied()
    chat_ids = sql.stage_chats(
        scope.chats, lock=lock, small_ok=scope.small_ok, table=table, tally=tally
    )
    collection_ids = scope.collections_for(chat_ids, lock=lock)
    file_ids: IdSet = []
    if scope.files is not None:
        file_ids = _ids(scope.files, lock=lock)
    planned = Plan(
        chat_ids=chat_ids,
        collection_ids=collection_ids,
        file_ids=file_ids,
        delete_chat_files=not scope.keep_files,
        by_type=tally.by_type,
    )
    children = count_children(
        chat_ids,
        live_since=live_since,
        collection_ids=collection_ids,
        from_deletion=lock,
        messages_bound=messages_bound,
        kept_messages=tally.messages,
    )
    return Planned(planned, children)


def _ids(files: QuerySet[File], *, lock: bool) -> list[int]:
    ordered = files.order_by("id")
    if lock:
        ordered = ordered.select_for_update()
    return list(ordered.values_list("id", flat=True))


# --------------------------------------------------------------------------- execution


@dataclass
class Deleted:
    """What :func:`execute` deleted, and the blobs to remove after commit."""

    counts: Counter[str]
    #: blob names held in memory (few: see ``DELETION_BLOB_CHUNK_SIZE``)
    blob_names: list[str] = field(default_factory=list)
    #: names put in the database queue; ``None``: some, how many is not known
    queued: int | None = 0
    #: cascade counts left for the record's statement to read (``tally_later``)
    tally: sql.Tally | None = None


def execute(
    *,
    plan: Plan,
    queue_blobs: bool = False,
    children: Children | None = None,
    tally_later: bool = False,
) -> Deleted:
    """Delete what the plan names; return counts and the blobs to remove.

    Blob names come back in a list, except with ``queue_blobs`` for a file set that
    may be large (more than ``DELETION_BLOB_CHUNK_SIZE`` files, or a number not
    counted beforehand): those go to the database's queue
    (:func:`chats.deletion.sql.queue_blobs`). ``children`` are the counts of
    :func:`count_children` when the caller has them already. When they say the
    cascade is counted by the deletion itself, the counts are read right after the
    chat ``DELETE`` — or, with ``tally_later``, left in ``Deleted.tally`` for the
    statement that writes the record to read.

    The files of the chats that belong to no collection are deleted first (their
    blobs must be noted); then the chats, whose messages, project links and socket
    records go by the database's ``ON DELETE CASCADE`` (files that stay in a
    collection lose their chat link by ``SET NULL``). Measured on PostgreSQL,
    deleting messages set-based first and then the chats costs more than the
    cascade alone: the chat delete still runs its cascade triggers, which then find
    nothing (p3 at large: 299 ms + 95 ms against 162 ms for the cascade).
    """
    if children is None:
        children = count_children(plan.chat_ids)
    known_by_kind = {
        "own": children.own_files,
        "collections": children.collection_files,
        "listed": len(plan.file_ids),
    }
    deleted = Deleted(Counter())
    counts = deleted.counts
    for file_set in rules.file_sets(plan):
        known = known_by_kind[file_set.kind]
        few = known is not None and known <= settings.DELETION_BLOB_CHUNK_SIZE
        if few or not queue_blobs:
            n, names = sql.delete_files_returning(file_set.where, file_set.params)
            deleted.blob_names += names
        else:
            n, queued = sql.delete_files_queued(file_set.where, file_set.params, file_set.files)
            if deleted.queued is not None:
                deleted.queued = None if queued is None else deleted.queued + queued
        counts["files"] += n
    counts.update(children.counts)
    counts["chats"] += sql.delete_rows(Chat, plan.chat_ids)
    if children.deleted_before is not None and counts["chats"]:
        tally = sql.Tally(list(rules.CASCADED), _cascaded_tables(), children.deleted_before)
        if tally_later:
            deleted.tally = tally
        else:
            after = sql.deleted_so_far(tally.tables)
            for kind, before, now in zip(tally.kinds, tally.before, after, strict=True):
                counts[kind] += now - before
    counts["collections"] += sql.delete_rows(Collection, plan.collection_ids)
    return deleted


def delete_files(*, files: QuerySet[File]) -> tuple[int, list[str]]:
    """Delete file rows, locked first in id order, inside the caller's transaction;
    return how many, and the blob names no remaining row references."""
    planned = plan(scope=rules.files(files))
    deleted = execute(plan=planned.plan, children=planned.children)
    return deleted.counts["files"], deleted.blob_names


def _connected(planned: Plan, children: Children) -> list[int]:
    """Chats of the plan with socket records: the only ones to notify after commit."""
    if children.connected is not None:
        return children.connected
    if children.deleted_before is None and not children.counts["connections"]:
        return []  # counted: none
    if not children.any_connections:
        return []
    connected: list[int] = []
    for ids in sql.id_sets(planned.chat_ids):
        connected.extend(
            ChatConnection.objects.filter(chat_id__in=sql.in_ids(ids))
            .order_by()
            .values_list("chat_id", flat=True)
            .distinct()
        )
    return connected


def _settle(
    result: DeletionResult, queued: effects.Queued, chat_ids: list[int]
) -> Callable[[effects.Outcome], None]:
    """What a chunk does once its outbox is carried out after commit.

    The record was written with the blobs the chunk expects to remove; it is
    updated only when the outcome differs: storage refused some (listed in
    ``errors``; the worker retries them), or some were found in use.
    """

    def then(outcome: effects.Outcome) -> None:
        if queued:
            result.counts["blobs"] += outcome.removed - len(queued)
            result.errors.extend(outcome.errors)
            if outcome.errors or outcome.removed != len(queued):
                audit.save(result=result)
        effects.notify_chats_deleted(chat_ids)

    return then


# --------------------------------------------------------------------------- the loop


def _batch_threshold() -> int | None:
    """Messages above which a deletion runs in batches; None when it must not batch."""
    threshold = int(settings.DELETION_BATCH_THRESHOLD)
    if threshold <= 0 or not transaction.get_autocommit():
        return None  # inside a caller's transaction: stay in it
    return threshold


def _batch_size(total_chats: int, estimated_messages: int) -> int:
    """Chats per batch: about ``DELETION_BATCH_MESSAGES`` messages, at most
    ``DELETION_BATCH_CHATS`` chats (so a batch of huge chats stays short too)."""
    most: int = settings.DELETION_BATCH_CHATS
    budget: int = settings.DELETION_BATCH_MESSAGES
    per_chat = max(1, estimated_messages // max(1, total_chats))
    return max(1, min(most, budget // per_chat))


class _Deletion:
    """One deletion's state between its chunks (see the module docstring)."""

    def __init__(
        self, scope: Scope, ctx: DeletionContext, *, dry_run: bool, planned: Planned | None
    ) -> None:
        self.scope = scope
        self.ctx = ctx
        self.dry_run = dry_run
        self.planned = planned
        self.threshold = None if dry_run else _batch_threshold()
        self.result = DeletionResult(dry_run=dry_run)
        #: a large purge's whole selection, its collections, and where it stands
        self.staged: sql.Staged | None = None
        self.collections: IdSet = ()
        self.size = 0
        self.last = 0
        #: chunks that deleted, and how many a large purge expects
        self.done = 0
        self.total = 1

    def chunk(self) -> bool:
        """One chunk, in one transaction (the caller's, when one is open; a dry run
        reads without one); whether more work remains."""
        opened = contextlib.nullcontext() if self.dry_run else transaction.atomic(savepoint=False)
        with opened:
            if self.staged is not None:
                return self._next_batch(self.staged)
            bound = None if self.threshold is None else self.threshold + 1
            planned = self.planned or plan(
                scope=self.scope, lock=not self.dry_run, messages_bound=bound
            )
            if self.dry_run:
                self._count(planned)
                return False
            messages = planned.children.messages
            if self.threshold is not None and messages > self.threshold:
                self._start_batches(planned.plan, messages)
                return True
            self.done = 1
            self._delete(planned.plan, planned.children, also=self.scope.also)
            return False

    def _count(self, planned: Planned) -> None:
        """The dry run: what the chunk would delete, blobs included."""
        p, children = planned.plan, planned.children
        counts: Counter[str] = Counter(chats=len(p.chat_ids), collections=len(p.collection_ids))
        counts.update(children.counts)
        file_sets = []
        for file_set in rules.file_sets(p):
            file_sets.append(file_set.files)
            if file_set.kind == "own":
                continue  # counted with the children
            if file_set.kind == "collections" and children.collection_files is not None:
                continue
            counts["files"] += file_set.files.count()
        counts["files"] += (children.own_files if p.delete_chat_files else 0) + (
            children.collection_files or 0
        )
        if self.scope.also is not None:
            more_counts, more_files = self.scope.also(p.chat_ids, True)
            counts.update(more_counts)
            if more_files is not None:
                file_sets.append(more_files)
        counts["blobs"] = effects.blobs_removed_with(file_sets)
        self.result.counts = counts
        self.result.by_type = p.by_type

    def _start_batches(self, planned: Plan, messages: int) -> None:
        """The first chunk of a large purge: keep the whole selection staged (its locks
        end with this chunk) and write the record the batches will update.

        The plan's own staged chats and collections are kept, moved to tables of
        their own (a rename, :func:`sql.move_staged`): a temporary table's rows
        outlive the transaction, and no later plan on this connection — the
        progress callback's, say — can change what the batches delete (they lock
        windows of it, :func:`sql.lock_window`). A selection the plan listed (few
        chats, many messages) is staged now."""
        if isinstance(planned.chat_ids, sql.Staged):
            self.staged = sql.move_staged(planned.chat_ids, table=sql.SCRATCH_ALL)
            self.collections = planned.collection_ids
            if isinstance(self.collections, sql.Staged):
                self.collections = sql.move_staged(
                    self.collections, table=sql.SCRATCH_ALL_COLLECTIONS
                )
        else:
            self.staged = sql.stage_table(self.scope.chats, lock=False, table=sql.SCRATCH_ALL)
            self.collections = self.scope.collections_for(self.staged, lock=False)
            if isinstance(self.collections, sql.Staged):
                self.collections = sql.move_staged(
                    self.collections, table=sql.SCRATCH_ALL_COLLECTIONS
                )
        self.size = _batch_size(len(self.staged), messages)
        self.total = -(-len(self.staged) // self.size) + 1
        self._write_record()

    def _next_batch(self, staged: sql.Staged) -> bool:
        """A large purge's next window of chats, or — when none is left — the rest."""
        sql.set_timeouts()
        tally = sql.Tallied()
        window = sql.lock_window(staged, after=self.last, size=self.size, tally=tally)
        self.done += 1
        if window is not None:
            self.last = window.upto or self.last
            batch = Plan(window, delete_chat_files=not self.scope.keep_files, by_type=tally.by_type)
            self._delete(batch, count_children(window, from_deletion=True), also=None)
            self._resize()
            return True
        collection_ids = self.collections
        if self.scope.rechecks_collections and collection_ids:
            # Every selected chat is gone now: a chat still linking is a survivor.
            collection_ids = rules.collections_no_chat_links(collection_ids)
        rest = Plan([], collection_ids, delete_chat_files=False)
        self._delete(rest, Children(Counter()), also=self.scope.also)
        return False

    def _resize(self) -> None:
        """Size the next batches by the messages per chat the batches so far deleted.

        The first batch is sized by the selection's average (its message counters'
        sum on PostgreSQL, a count elsewhere), so it may hold more than
        ``DELETION_BATCH_MESSAGES`` messages when its chats are larger than the
        average; from the second batch on the sizes follow what was deleted.
        """
        counts = self.result.counts
        if counts["chats"]:
            self.size = _batch_size(counts["chats"], counts["messages"])

    def _write_record(self) -> None:
        record = audit.write(ctx=self.ctx, result=self.result)
        self.result.record_id = record.pk
        self.result.deleted_at = record.created_at

    def _delete(self, batch: Plan, children: Children, *, also: Also | None) -> None:
        """Execute a chunk's plan, record it, and leave its effects to after commit."""
        result = self.result
        if result.record_id is None and also is not None:
            # Written first: if the actor is among the deleted users, the database
            # sets ``actor`` to NULL and the record keeps the actor's email.
            self._write_record()
        connected = _connected(batch, children)
        # The cascade counts are read by the record's next write — unless ``also``
        # deletes more of those rows (e.g. links of a user's projects) before it.
        deleted = execute(plan=batch, queue_blobs=True, children=children, tally_later=also is None)
        if also is not None:
            more_counts, _ = also(batch.chat_ids, False)
            deleted.counts.update(more_counts)
            deleted.queued = None  # a user's remaining files are queued by ``also``
        # Blobs to remove after commit: the outbox rows written with the record.
        expected = len(deleted.blob_names) + (deleted.queued or 0)
        deleted.counts["blobs"] = expected
        result.counts.update(deleted.counts)
        result.tally = deleted.tally  # read by the record's next write, below
        result.by_type.update(batch.by_type)
        result.batches = self.done
        stale = result.record_id is not None
        if result.record_id is None:
            self._write_record()
        record_id = result.record_id
        if record_id is None:  # ``_write_record`` has just set it
            raise RuntimeError("the deletion's record was not written")
        queued = effects.queue_blob_removals(
            record_id=record_id, names=deleted.blob_names, checked=True
        )
        if deleted.queued != 0:
            sql.create_blob_queue()  # ``also`` may have queued none
            effects.queue_from_table(record_id=record_id, table=sql.SCRATCH_BLOBS, queued=queued)
        if len(queued) != expected:
            result.counts["blobs"] += len(queued) - expected
            stale = True
        if stale:
            audit.save(result=result)
        if queued or connected:
            effects.carry_out_on_commit(
                record_id=record_id, queued=queued, then=_settle(result, queued, connected)
            )


def run(
    *,
    scope: Scope,
    ctx: DeletionContext,
    dry_run: bool = False,
    planned: Planned | None = None,
    progress: Progress | None = None,
) -> DeletionResult:
    """Delete what ``scope`` covers (or, with ``dry_run``, count it), chunk by chunk.

    ``planned``: the scope already planned and locked by the caller, in the
    transaction it has open (a door that checks what it found before deleting).
    ``progress`` (or ``ctx.progress``) is told after each chunk that deleted.
    """
    progress = progress or ctx.progress
    deletion = _Deletion(scope, ctx, dry_run=dry_run, planned=planned)
    more = True
    while more:
        more = deletion.chunk()
        if progress is not None and deletion.done:
            total = max(deletion.total, deletion.done + 1) if more else deletion.done
            progress(deletion.done, total)
    if not dry_run:
        audit.log(ctx=ctx, result=deletion.result)
    return deletion.result


def preview(*, scope: Scope) -> DeletionResult:
    """What :func:`run` would delete for ``scope``; deletes nothing, locks nothing."""
    return run(scope=scope, ctx=DeletionContext(None, "preview"), dry_run=True)
