"""Orphan cleanup: find and remove what the deletion paths leave behind.

``manage.py cleanup_orphans`` and the admin's "Purge orphans" page call this module;
it is built on the public functions of the deletion package — the engine plans and
executes a chat or file deletion (:mod:`chats.deletion.engine`), the audit writes
the ``DeletionRecord`` (:mod:`chats.deletion.audit`), the outbox removes blobs after
commit (:mod:`chats.deletion.effects`) — so an orphan is deleted exactly the way
every other deletion is.

Kinds of orphan, in the order a sweep handles them:

``null-chats``
    Conversations whose type is NULL, created before the grace period. They go
    like any chat: messages, project links, live-connection records and the files
    uploaded in them that belong to no collection (blobs included).
``stale-connections``
    ``ChatConnection`` rows whose heartbeat is older than the grace period, and
    never younger than ``CHAT_CONNECTION_TTL`` (a live socket is never swept).
``empty-collections``
    User-owned collections with no file and no conversation linking to them,
    created before the grace period. Global collections are never swept.
``loose-files``
    Files with neither chat nor collection. **Kept by default**: the conversations
    endpoint with ``delete_files_and_collections=false`` leaves exactly such files
    because their owner asked to keep them, and every file still has a living owner
    who can see and delete it. They are counted and reported; only with
    ``delete_loose_files`` are the ones older than the grace period deleted.
``missing-blobs``
    ``File`` rows whose blob is missing from storage. Reported (with a few
    examples); the rows are deleted only with ``delete_missing_blob_rows``.
``orphan-blobs``
    Blobs under this deployment's ``<STORAGE_NAMESPACE>/uploads/`` in storage
    (:func:`neptun.uploads.upload_root`) that no ``File`` row references, last
    modified before the grace period (default 24 h, so an upload in flight, whose
    blob is written before its row, is never taken). Only that folder is listed
    (paginated, one page in memory) and nothing outside it is removed: another
    deployment sharing the media root or the bucket has a namespace of its own.

How a sweep runs: each kind is walked in keyset order (``id > last``) in batches of
``batch_size``; each batch is one short transaction that re-checks the orphan
condition under a row lock, deletes, and adds its counts to the run's single
``DeletionRecord`` (interface ``command`` or ``admin``). Blobs are removed after the
batch commits, through the outbox (one that storage refuses is retried by the worker;
an orphan blob too: it is written to the outbox on the sweep's record first). Python
memory holds one batch at a time, whatever the number of orphans. A sweep that is
interrupted has committed whole batches only; running it again finds what is left
(a blob whose row was deleted just before the interruption is an orphan blob by
then and goes in the ``orphan-blobs`` step).
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone

from chats.deletion import audit, effects, engine, rules, sql, storage
from chats.deletion.result import DeletionContext, DeletionResult
from chats.models import Chat, ChatConnection
from collections_app.models import Collection, File
from neptun import uploads

logger = logging.getLogger("neptun.cleanup")

NULL_CHATS = "null-chats"
STALE_CONNECTIONS = "stale-connections"
EMPTY_COLLECTIONS = "empty-collections"
LOOSE_FILES = "loose-files"
MISSING_BLOBS = "missing-blobs"
ORPHAN_BLOBS = "orphan-blobs"

#: Every kind, in the order a sweep handles them.
KINDS: tuple[str, ...] = (
    NULL_CHATS,
    STALE_CONNECTIONS,
    EMPTY_COLLECTIONS,
    LOOSE_FILES,
    MISSING_BLOBS,
    ORPHAN_BLOBS,
)

#: Kinds that need no walk through storage (the admin's purge page sweeps these).
DATABASE_KINDS: tuple[str, ...] = (NULL_CHATS, STALE_CONNECTIONS, EMPTY_COLLECTIONS, LOOSE_FILES)

DEFAULT_GRACE = timedelta(hours=24)

#: How many examples of missing blobs a report carries.
MAX_EXAMPLES = 20

#: How many errors a report keeps in full (the rest are counted), so that a storage
#: outage during a long sweep does not make the report grow with the orphans.
MAX_ERRORS = 1000


class Progress(Protocol):
    """What a sweep tells its caller while it runs (the command draws a bar)."""

    def start(self, kind: str, total: int | None) -> None: ...

    def advance(self, kind: str, n: int) -> None: ...

    def finish(self, kind: str) -> None: ...


class NoProgress:
    def start(self, kind: str, total: int | None) -> None:
        pass

    def advance(self, kind: str, n: int) -> None:
        pass

    def finish(self, kind: str) -> None:
        pass


@dataclass(frozen=True)
class SweepOptions:
    """What to sweep and how carefully."""

    kinds: Sequence[str] = KINDS
    #: Grace period by kind; a kind not named here uses ``DEFAULT_GRACE``.
    grace: Mapping[str, timedelta] = field(default_factory=dict)
    #: Rows a batch (one transaction) takes. Measured on 100,000 orphans (p5 of the
    #: benchmark): 5,000 took 0.83 s against 0.96 s with 1,000 (raw SQL 0.60 s), its
    #: 60 statements and commits instead of 300; the peak memory, one batch's ids,
    #: went from 0.5 to 1.6 MB, the same at 10,000 orphans as at 100,000.
    batch_size: int = 5000
    delete_loose_files: bool = False
    delete_missing_blob_rows: bool = False

    def __post_init__(self) -> None:
        unknown = sorted(set(self.kinds) - set(KINDS))
        if unknown:
            raise ValueError(f"unknown orphan kind(s): {', '.join(unknown)}")
        if self.batch_size < 1:
            raise ValueError("batch_size must be at least 1")

    def grace_of(self, kind: str) -> timedelta:
        grace = self.grace.get(kind, DEFAULT_GRACE)
        if kind == STALE_CONNECTIONS:
            grace = max(grace, timedelta(seconds=settings.CHAT_CONNECTION_TTL))
        return grace


@dataclass
class KindReport:
    """One kind's outcome: how many orphans were found, removed and kept."""

    grace: timedelta
    found: int = 0
    removed: int = 0
    kept: int = 0
    #: Rows and blobs removed (or, in a dry run, that would be) with these orphans.
    counts: Counter[str] = field(default_factory=Counter)
    examples: list[dict[str, Any]] = field(default_factory=list)
    complete: bool = True

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "found": self.found,
            "removed": self.removed,
            "kept": self.kept,
            "older_than_seconds": int(self.grace.total_seconds()),
            "counts": {kind: n for kind, n in sorted(self.counts.items()) if n},
            "complete": self.complete,
        }
        if self.examples:
            data["examples"] = list(self.examples)
        return data


@dataclass
class SweepReport:
    dry_run: bool
    kinds: dict[str, KindReport] = field(default_factory=dict)
    #: Everything removed (or that would be), by kind of row, as in ``DeletionResult``.
    result: DeletionResult = field(default_factory=DeletionResult)
    #: Errors beyond the first ``MAX_ERRORS``, counted only.
    errors_omitted: int = 0

    def cap_errors(self) -> None:
        overflow = len(self.result.errors) - MAX_ERRORS
        if overflow > 0:
            del self.result.errors[MAX_ERRORS:]
            self.errors_omitted += overflow

    @property
    def failed(self) -> bool:
        return bool(self.result.errors or self.errors_omitted)

    @property
    def errors(self) -> list[dict[str, Any]]:
        return self.result.errors

    @property
    def complete(self) -> bool:
        return all(report.complete for report in self.kinds.values())

    @property
    def record_id(self) -> int | None:
        return self.result.record_id

    def as_dict(self) -> dict[str, Any]:
        totals = self.result.as_dict()
        return {
            "dry_run": self.dry_run,
            "complete": self.complete,
            "kinds": {kind: report.as_dict() for kind, report in self.kinds.items()},
            "counts": totals["counts"],
            "by_type": totals["by_type"],
            "errors": totals["errors"],
            "errors_omitted": self.errors_omitted,
            "record_id": self.record_id,
        }


class _Run:
    """Accumulates a sweep's batches into one ``DeletionRecord``.

    The record is created by the first batch that deletes anything and updated in
    each later batch's own transaction, so it always matches what has committed.
    """

    def __init__(self, ctx: DeletionContext | None, report: SweepReport) -> None:
        self.ctx = ctx
        self.report = report

    @property
    def dry_run(self) -> bool:
        return self.ctx is None

    def _orphans(self, kind_removed: Mapping[str, int]) -> dict[str, Any]:
        """The record's ``orphans`` entry: removed by kind, this batch included."""
        return {
            "orphans": {
                kind: report.removed + kind_removed.get(kind, 0)
                for kind, report in self.report.kinds.items()
            }
        }

    def _write(self, counts: Counter[str], kind_removed: Mapping[str, int]) -> int:
        """Write the record as it stands plus this batch (inside the batch's
        transaction); its id."""
        if self.ctx is None:
            raise RuntimeError("a dry run writes no record")
        pending = DeletionResult(
            counts=self.report.result.counts + counts,
            by_type=self.report.result.by_type,
            errors=self.report.result.errors,
            record_id=self.report.result.record_id,
        )
        extra = self._orphans(kind_removed)
        if pending.record_id is None:
            record = audit.write(ctx=self.ctx, result=pending, extra=extra)
            self.report.result.record_id = record.pk
            return record.pk
        audit.save(result=pending, extra=extra)
        return pending.record_id

    def commit_batch(
        self,
        kind: str,
        removed: int,
        counts: Counter[str],
        blob_names: Sequence[str] = (),
        by_type: Counter[str] | None = None,
    ) -> None:
        """Book a deleted batch; call inside the batch's ``transaction.atomic()``."""
        if not removed and not +counts:
            return
        counts = Counter(counts)
        record_id = self._write(counts, {kind: removed})
        report, result = self.report.kinds[kind], self.report.result
        queued = effects.queue_blob_removals(record_id=record_id, names=blob_names, counted=False)

        def committed(outcome: effects.Outcome) -> None:
            report.removed += removed
            report.counts.update(counts)
            result.counts.update(counts)
            if by_type:
                result.by_type.update(by_type)
            self._book_blobs(kind, outcome, removed_orphans=False)

        effects.carry_out_on_commit(record_id=record_id, queued=queued, then=committed)

    def _book_blobs(self, kind: str, outcome: effects.Outcome, *, removed_orphans: bool) -> None:
        """Add an outbox outcome to the report and, when it changed, the record."""
        report, result = self.report.kinds[kind], self.report.result
        result.errors.extend(outcome.errors)
        result.counts["blobs"] += outcome.removed
        report.counts["blobs"] += outcome.removed
        if removed_orphans:
            report.removed += outcome.removed
        if outcome.errors or outcome.removed:
            self.report.cap_errors()
            audit.save(result=result, extra=self._orphans({}))

    def remove_blobs(self, kind: str, names: Sequence[str]) -> None:
        """Remove orphan blobs through the outbox, on the sweep's record (written
        first if need be); each is checked unreferenced just before removal."""
        with transaction.atomic():
            record_id = self.report.result.record_id
            if record_id is None:
                record_id = self._write(Counter(), {})
            queued = effects.queue_blob_removals(record_id=record_id, names=names, counted=False)
            effects.carry_out_on_commit(
                record_id=record_id,
                queued=queued,
                then=lambda outcome: self._book_blobs(kind, outcome, removed_orphans=True),
            )


def human_duration(td: timedelta) -> str:
    """``24h``, ``7d``, ``90s``: the form ``--older-than`` takes."""
    seconds = int(td.total_seconds())
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _keyset(queryset: QuerySet[Any], batch_size: int) -> Iterator[list[int]]:
    """Ids of ``queryset`` in ascending batches; re-queried each time (rows may go)."""
    last = 0
    while True:
        ids = list(
            queryset.filter(pk__gt=last).order_by("pk").values_list("pk", flat=True)[:batch_size]
        )
        if not ids:
            return
        last = ids[-1]
        yield ids


# --------------------------------------------------------------------------- selections


def null_chats(cutoff) -> QuerySet[Chat]:
    return Chat.objects.filter(conversation_type__isnull=True, created_at__lt=cutoff)


def stale_connections(cutoff) -> QuerySet[ChatConnection]:
    return ChatConnection.objects.filter(last_seen_at__lt=cutoff)


def empty_collections(cutoff) -> QuerySet[Collection]:
    return Collection.objects.filter(
        ~Exists(File.objects.filter(collection_id=OuterRef("pk"))),
        ~Exists(Chat.objects.filter(collection_id=OuterRef("pk"))),
        is_global=False,
        owner__isnull=False,
        created_at__lt=cutoff,
    )


def loose_files(cutoff) -> QuerySet[File]:
    return File.objects.filter(chat__isnull=True, collection__isnull=True, created_at__lt=cutoff)


# --------------------------------------------------------------------------- sweeps


class _Sweep:
    def __init__(
        self,
        options: SweepOptions,
        ctx: DeletionContext | None,
        progress: Progress,
        deadline: float | None,
    ) -> None:
        self.options = options
        self.now = timezone.now()
        self.report = SweepReport(dry_run=ctx is None)
        self.report.result.dry_run = ctx is None
        self.run = _Run(ctx, self.report)
        self.progress = progress
        self.deadline = deadline

    def out_of_time(self, kind: str) -> bool:
        if self.deadline is not None and time.monotonic() >= self.deadline:
            self.report.kinds[kind].complete = False
            return True
        return False

    def cutoff(self, kind: str):
        return self.now - self.options.grace_of(kind)

    def __call__(self) -> SweepReport:
        handlers = {
            NULL_CHATS: self.null_chats,
            STALE_CONNECTIONS: self.stale_connections,
            EMPTY_COLLECTIONS: self.empty_collections,
            LOOSE_FILES: self.loose_files,
            MISSING_BLOBS: self.missing_blobs,
            ORPHAN_BLOBS: self.orphan_blobs,
        }
        for kind in KINDS:
            if kind not in self.options.kinds:
                continue
            self.report.kinds[kind] = KindReport(grace=self.options.grace_of(kind))
        for kind in self.report.kinds:
            handlers[kind](kind)
            self.progress.finish(kind)
            self.report.cap_errors()
        return self.report

    # ---- rows --------------------------------------------------------------------

    def null_chats(self, kind: str) -> None:
        selection = null_chats(self.cutoff(kind))
        report = self.report.kinds[kind]
        report.found = selection.count()
        self.progress.start(kind, report.found)
        for ids in _keyset(selection, self.options.batch_size):
            if self.out_of_time(kind):
                return
            if self.run.dry_run:
                preview = engine.preview(scope=rules.chats(Chat.objects.filter(id__in=ids)))
                report.counts.update(preview.counts)
                self.report.result.counts.update(preview.counts)
                self.report.result.by_type.update(preview.by_type)
            else:
                with transaction.atomic():
                    # Locks the chats and re-checks that they are still orphans.
                    planned = engine.plan(scope=rules.chats(selection.filter(id__in=ids)))
                    deleted = engine.execute(plan=planned.plan, children=planned.children)
                    counts, blob_names = deleted.counts, deleted.blob_names
                    self.run.commit_batch(
                        kind, counts["chats"], counts, blob_names, by_type=planned.plan.by_type
                    )
            self.progress.advance(kind, len(ids))

    def _begin(self, kind: str, selection: QuerySet[Any]) -> None:
        """Count what a kind finds and start its progress line."""
        report = self.report.kinds[kind]
        report.found = selection.count()
        self.progress.start(kind, report.found)

    def _count_only(self, kind: str, counted_as: str) -> None:
        """A dry run of a kind whose every find is one row of ``counted_as``."""
        found = self.report.kinds[kind].found
        self.report.kinds[kind].counts[counted_as] = found
        self.report.result.counts[counted_as] += found
        self.progress.advance(kind, found)

    def stale_connections(self, kind: str) -> None:
        cutoff = self.cutoff(kind)
        selection = stale_connections(cutoff)
        self._begin(kind, selection)
        if self.run.dry_run:
            self._count_only(kind, "connections")
            return
        for ids in _keyset(selection, self.options.batch_size):
            if self.out_of_time(kind):
                return
            with transaction.atomic():
                n = _delete_stale(ids, cutoff=cutoff)
                self.run.commit_batch(kind, n, Counter(connections=n))
            self.progress.advance(kind, len(ids))

    def empty_collections(self, kind: str) -> None:
        selection = empty_collections(self.cutoff(kind))
        self._begin(kind, selection)
        if self.run.dry_run:
            self._count_only(kind, "collections")
            return
        last = 0
        while not self.out_of_time(kind):
            with transaction.atomic():
                locked = _lock_next(selection, after=last, limit=self.options.batch_size)
                if not locked:
                    return
                last = locked[-1]
                n = _delete_still_empty(locked)
                self.run.commit_batch(kind, n, Counter(collections=n))
            self.progress.advance(kind, len(locked))

    def loose_files(self, kind: str) -> None:
        selection = loose_files(self.cutoff(kind))
        report = self.report.kinds[kind]
        report.found = selection.count()
        self.progress.start(kind, report.found)
        if not self.options.delete_loose_files:
            report.kept = report.found
            self.progress.advance(kind, report.found)
            return
        if self.run.dry_run:
            blobs = effects.blobs_removed_with([selection])
            report.counts.update(files=report.found, blobs=blobs)
            self.report.result.counts.update(files=report.found, blobs=blobs)
            self.progress.advance(kind, report.found)
            return
        for ids in _keyset(selection, self.options.batch_size):
            if self.out_of_time(kind):
                return
            with transaction.atomic():
                n, blob_names = engine.delete_files(files=selection.filter(id__in=ids))
                self.run.commit_batch(kind, n, Counter(files=n), blob_names)
            self.progress.advance(kind, len(ids))

    # ---- storage -----------------------------------------------------------------

    def missing_blobs(self, kind: str) -> None:
        selection = File.objects.filter(created_at__lt=self.cutoff(kind))
        report = self.report.kinds[kind]
        self.progress.start(kind, selection.count())
        delete = self.options.delete_missing_blob_rows
        for ids in _keyset(selection, self.options.batch_size):
            if self.out_of_time(kind):
                return
            rows = File.objects.filter(id__in=ids).order_by("id").values_list("id", "blob")
            missing = [(pk, name) for pk, name in rows if not self._blob_exists(name)]
            report.found += len(missing)
            for pk, name in missing[: MAX_EXAMPLES - len(report.examples)]:
                report.examples.append({"file_id": pk, "blob": name})
            missing_ids = [pk for pk, _name in missing]
            if not delete:
                report.kept += len(missing)
            elif self.run.dry_run:
                report.counts["files"] += len(missing)
                self.report.result.counts["files"] += len(missing)
            elif missing_ids:
                with transaction.atomic():
                    n, _names = engine.delete_files(files=File.objects.filter(id__in=missing_ids))
                    # The blobs are missing already: nothing to remove from storage.
                    self.run.commit_batch(kind, n, Counter(files=n))
            self.progress.advance(kind, len(ids))

    def _blob_exists(self, name: str) -> bool:
        if not name:
            return False
        try:
            return default_storage.exists(name)
        except Exception as exc:
            self.report.errors.append(
                {"kind": "blob", "blob": name, "error": f"{type(exc).__name__}: {exc}"}
            )
            return True  # unknown: never treat as missing

    def orphan_blobs(self, kind: str) -> None:
        """Blobs under this deployment's upload folder that no row references, older
        than the grace period. The listing comes with each blob's age (one
        ``ListObjectsV2`` page at a time on S3), and removal is batched."""
        cutoff = self.cutoff(kind)
        report = self.report.kinds[kind]
        self.progress.start(kind, None)
        root = uploads.upload_root()
        found = storage.blobs_under(root=root, errors=self.report.errors)
        for blobs in _batched(found, self.options.batch_size):
            if self.out_of_time(kind):
                return
            names = [blob.name for blob in blobs]
            referenced = set(File.objects.filter(blob__in=names).values_list("blob", flat=True))
            orphans = [
                blob.name
                for blob in blobs
                if blob.name not in referenced and blob.modified < cutoff
            ]
            report.found += len(orphans)
            if self.run.dry_run:
                report.counts["blobs"] += len(orphans)
                self.report.result.counts["blobs"] += len(orphans)
            elif orphans:
                self.run.remove_blobs(kind, orphans)
            self.progress.advance(kind, len(names))


def _delete_stale(ids: Sequence[int], *, cutoff: datetime) -> int:
    """Delete the socket records of ``ids`` that are still stale (their heartbeat
    older than ``cutoff``); how many. The ids go as :func:`sql.id_is_one_of` writes
    them (one array on PostgreSQL)."""
    if not ids:
        return 0
    table = ChatConnection._meta.db_table
    among, params = sql.id_is_one_of("id", ids)
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {table} WHERE {among} AND last_seen_at < %s",  # noqa: S608
            [*params, cutoff],
        )
        return int(cursor.rowcount)


def _lock_next(selection: QuerySet[Collection], *, after: int, limit: int) -> list[int]:
    """The next ``limit`` ids of ``selection`` above ``after``, locked (in id order) by
    the statement that finds them; on PostgreSQL rows another transaction holds are
    skipped (``SKIP LOCKED``: a collection being changed is not an orphan to wait
    for, the next sweep sees it again)."""
    found = selection.filter(id__gt=after).order_by("id")
    skip_locked = connection.features.has_select_for_update_skip_locked
    locked = found.select_for_update(skip_locked=skip_locked)
    return list(locked.values_list("id", flat=True)[:limit])


def _delete_still_empty(ids: Sequence[int]) -> int:
    """Delete the locked collections that are still empty, in one statement; how many.

    The emptiness is checked again by the ``DELETE`` itself, a statement after the
    locks were taken (so, on PostgreSQL, with a snapshot that sees every file or
    chat committed before it: one linked meanwhile keeps its collection). An empty
    collection has no file by that check, so no files statement is needed, and no
    blob goes.
    """
    table = Collection._meta.db_table
    files, chats = File._meta.db_table, Chat._meta.db_table
    among, params = sql.id_is_one_of("id", ids)
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {table} WHERE {among} "  # noqa: S608 - table names are ours
            f"AND NOT EXISTS (SELECT 1 FROM {files} f WHERE f.collection_id = {table}.id) "
            f"AND NOT EXISTS (SELECT 1 FROM {chats} c WHERE c.collection_id = {table}.id)",
            params,
        )
        return int(cursor.rowcount)


def _batched[T](items: Iterator[T], size: int) -> Iterator[list[T]]:
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


# --------------------------------------------------------------------------- public API


def orphans_preview(
    *, options: SweepOptions | None = None, progress: Progress | None = None
) -> SweepReport:
    """What :func:`orphans_delete` would remove; deletes nothing."""
    return _Sweep(options or SweepOptions(), None, progress or NoProgress(), None)()


def orphans_delete(
    *,
    options: SweepOptions | None = None,
    ctx: DeletionContext,
    progress: Progress | None = None,
    time_budget: float | None = None,
) -> SweepReport:
    """Remove orphans in batches; one ``DeletionRecord`` for the whole run.

    With ``time_budget`` (seconds) the sweep stops between batches once it is spent
    and reports the unfinished kinds as incomplete (the admin uses this; the
    command runs to the end). Do not call inside a transaction: each batch must
    commit on its own.
    """
    deadline = time.monotonic() + time_budget if time_budget is not None else None
    report = _Sweep(options or SweepOptions(), ctx, progress or NoProgress(), deadline)()
    logger.info(
        "orphan sweep %s by %s: %s",
        ctx.interface,
        ctx.actor.email if ctx.actor else "system",
        {kind: r.removed for kind, r in report.kinds.items()},
    )
    return report
