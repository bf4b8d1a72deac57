"""The outbox: a deletion's side effects outside the database, made crash-safe.

(Also the socket notices a deletion sends after commit: :func:`notify_chats_deleted`.)

A deletion that removes file rows also has to remove their blobs from storage, and
storage is not in the transaction. So the deletion writes one
:class:`~chats.models.BlobRemoval` row per blob **in its own transaction**
(:func:`queue_blob_removals`, :func:`queue_from_table`): the rows commit or roll back
with the deletion. Then:

1. Right after commit the deleting process carries its rows out
   (:func:`carry_out`), so a response still reports what storage refused.
2. Whatever is left — a failure, or rows of a process that died between its commit
   and its removals — is taken by the worker's periodic sweep (:func:`sweep`, run by
   ``manage.py worker``), retried with exponential backoff (``OUTBOX_RETRY_BASE``
   doubling up to ``OUTBOX_RETRY_MAX``) at most ``OUTBOX_MAX_ATTEMPTS`` times, and the
   outcome is written back to the deletion record.

Rules every pass keeps:

- A blob that a live ``File`` row references is never removed (it is checked just
  before removal; the row of the outbox is then done, the blob kept).
- Removing a blob that is already gone is success (storage deletes are idempotent).
- A process claims the rows it works on with a lease (``claimed_until``, written and
  committed before any storage call), never with a row lock held across storage
  calls; a crashed process's rows are free again when its lease runs out. Several
  workers never carry out the same row at once, and a removal is counted only by the
  process whose ``DELETE`` of the row took effect, so nothing is counted twice.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from chats.deletion import audit, sql, storage
from chats.models import BlobRemoval
from collections_app.models import File
from neptun.channel_events import send_to_groups

logger = logging.getLogger("neptun.outbox")

#: What a response and a record say about a blob that could not be removed yet.
RETRY_ACTION = "left in storage for now; the worker retries its removal"
GAVE_UP_ACTION = "left in storage; `manage.py cleanup_orphans` removes it"


@dataclass
class Outcome:
    """What one pass over outbox rows did."""

    removed: int = 0
    #: blobs still referenced by a live row: not removed, their outbox row done
    kept: int = 0
    #: one entry per blob that failed in this pass (the shape responses report)
    errors: list[dict[str, Any]] = field(default_factory=list)
    #: change of each deletion record's ``counts["blobs"]`` (the sweep writes it back):
    #: +1 for a removal the record did not count yet, -1 for a counted blob kept
    blobs_by_record: Counter[int] = field(default_factory=Counter)
    #: blobs whose removal succeeded (so a record's old error about them can go)
    removed_names: dict[int, list[str]] = field(default_factory=dict)
    gave_up: dict[int, list[dict[str, Any]]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"removed": self.removed, "kept": self.kept, "failed": len(self.errors)}


def _chunk() -> int:
    return int(settings.DELETION_BLOB_CHUNK_SIZE)


def _lease_end(now: datetime) -> datetime:
    return now + timedelta(seconds=settings.OUTBOX_LEASE)


# --------------------------------------------------------------------------- writing


@dataclass(frozen=True, slots=True)
class Row:
    """What carrying out needs of one outbox row (:class:`~chats.models.BlobRemoval`).

    Plain values, not model instances: a deletion of 1,000 blobs built 1,000
    ``BlobRemoval`` objects to read five fields of each (p3 at the large scale: 7 % of
    the profiled request)."""

    id: int
    name: str
    record_id: int | None
    attempts: int = 0
    counted: bool = True


#: The fields of :class:`Row`, in order, as the ORM reads them.
ROW_FIELDS = ("id", "name", "record_id", "attempts", "counted")


def _rows(queryset: QuerySet[BlobRemoval]) -> list[Row]:
    return [Row(*values) for values in queryset.values_list(*ROW_FIELDS)]


@dataclass
class Queued:
    """Outbox rows one deletion wrote: those it holds in memory, and how many more it
    moved from a scratch table (read back in chunks by :func:`carry_out`)."""

    rows: list[Row] = field(default_factory=list)
    from_table: int = 0
    #: every row moved from a scratch table has a larger id than this (so a large
    #: purge's chunk reads back its own rows, not an earlier chunk's left behind)
    from_table_after: int | None = None
    #: the names in ``rows`` were checked unreferenced inside the deletion's transaction
    checked: bool = False

    def __len__(self) -> int:
        return len(self.rows) + self.from_table


def queue_blob_removals(
    *, record_id: int, names: Iterable[str], checked: bool = False, counted: bool = True
) -> Queued:
    """Write outbox rows for ``names`` (inside the deletion's transaction), one
    statement. ``checked``: no other row referenced them when their files went.
    ``counted``: the record already counts them as removed (see ``BlobRemoval.counted``).

    The rows start claimed by the writing process for one lease, so the worker leaves
    them to :func:`carry_out` unless that process dies. On PostgreSQL the names go
    as one array parameter (``INSERT … SELECT … FROM unnest(%s::text[]) RETURNING``):
    measured on a 50-blob chat, building and compiling a ``bulk_create`` of model
    instances cost more Python than its statement cost SQL.
    """
    unique = sorted({n for n in names if n})
    if not unique:
        return Queued(checked=checked)
    now = timezone.now()
    lease = _lease_end(now)
    written = sql.insert_outbox_names(
        table=BlobRemoval._meta.db_table,
        record_id=record_id,
        names=unique,
        now=now,
        lease=lease,
        counted=counted,
    )
    if written is None:
        created = BlobRemoval.objects.bulk_create(
            [
                BlobRemoval(
                    name=name,
                    record_id=record_id,
                    claimed_until=lease,
                    created_at=now,
                    counted=counted,
                )
                for name in unique
            ],
            batch_size=_chunk(),
        )
        written = [(row.pk, row.name) for row in created]
    rows = [Row(row_id, name, record_id, counted=counted) for row_id, name in written]
    return Queued(rows=rows, checked=checked)


def queue_blob_removals_each(
    *, names: Mapping[int, Iterable[str]], checked: bool = False
) -> dict[int, Queued]:
    """:func:`queue_blob_removals` for several records at once, one statement:
    ``names`` by record id; what each record queued."""
    now = timezone.now()
    created = BlobRemoval.objects.bulk_create(
        [
            BlobRemoval(
                name=name,
                record_id=record_id,
                claimed_until=_lease_end(now),
                created_at=now,
                counted=True,
            )
            for record_id, record_names in names.items()
            for name in sorted({n for n in record_names if n})
        ],
        batch_size=_chunk(),
    )
    queued = {record_id: Queued(checked=checked) for record_id in names}
    for row in created:
        if row.record_id is not None:
            queued[row.record_id].rows.append(Row(row.pk, row.name, row.record_id))
    return queued


def queue_from_table(*, record_id: int, table: str, queued: Queued) -> None:
    """Move the distinct blob names of a scratch table (column ``name``) into the
    outbox, in one statement, and empty the table; ``queued`` counts them.

    Call it once the files of the names are deleted, in the deletion's transaction:
    a name that a file still present references (one staying behind, sharing the
    blob) is not queued, so the rows written are checked as
    :func:`queue_blob_removals`'s ``checked`` names are, and :func:`carry_out` does
    not ask the file table again.
    """
    now = timezone.now()
    count, after = sql.insert_outbox_from_table(
        outbox=BlobRemoval._meta.db_table,
        files=File._meta.db_table,
        table=table,
        params=[record_id, now, _lease_end(now), False, True, now],
    )
    queued.from_table += count
    if count:
        known = queued.from_table_after
        queued.from_table_after = after if known is None else min(known, after)


def blobs_removed_with(file_sets: Sequence[QuerySet[File]]) -> int:
    """Blobs a deletion of these files removes from storage: the distinct non-empty
    blob names among them that no file staying behind references — exactly what the
    deletion reports once its outbox is carried out (two going files sharing a blob
    are one removal; a blob shared with a file that stays is kept)."""
    if not file_sets:
        return 0
    going = Q()
    for files in file_sets:
        going |= Q(pk__in=files.values("pk"))
    staying = File.objects.exclude(going).exclude(blob="").values("blob")
    return (
        File.objects.filter(going)
        .exclude(blob="")
        .exclude(blob__in=staying)
        .values("blob")
        .distinct()
        .count()
    )


# --------------------------------------------------------------------------- carrying out


def _claim(condition: Q, limit: int, *, own: bool = False) -> list[Row]:
    """Take up to ``limit`` rows matching ``condition`` for one lease, and commit.

    Without ``own``, only rows nobody holds (no lease, or an expired one). On
    PostgreSQL rows another claimer is taking right now are skipped
    (``SKIP LOCKED``); SQLite serialises writers, which has the same effect.
    """
    now = timezone.now()
    with transaction.atomic():
        rows = BlobRemoval.objects.filter(condition, failed=False).order_by("id")
        if not own:
            rows = rows.filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
        if connection.features.has_select_for_update_skip_locked:
            rows = rows.select_for_update(skip_locked=True)
        claimed = _rows(rows[:limit])
        if claimed:
            BlobRemoval.objects.filter(id__in=[row.id for row in claimed]).update(
                claimed_until=_lease_end(now)
            )
    return claimed


def _backoff(attempts: int) -> timedelta:
    seconds = settings.OUTBOX_RETRY_BASE * 2 ** max(0, attempts - 1)
    return timedelta(seconds=min(seconds, settings.OUTBOX_RETRY_MAX))


def _attempt(rows: Sequence[Row], outcome: Outcome, *, checked: bool = False) -> None:
    """Remove the blobs of claimed rows (no transaction open: storage calls hold no
    row lock), then settle the rows: done ones deleted, failed ones rescheduled.
    The removal is one batched call (:func:`chats.deletion.storage.blobs_remove`):
    a chunk of ``DELETION_BLOB_CHUNK_SIZE`` rows is one ``DeleteObjects`` request on S3.

    Unless ``checked``, the file rows are asked first and a blob still referenced is
    kept. ``checked`` names were found unreferenced by the statement that deleted
    their files, under the deletion's locks; no row can point at them since, as
    storage never hands an existing blob's name to a new upload.
    """
    names = [row.name for row in rows]
    in_use = (
        set()
        if checked
        else set(File.objects.filter(blob__in=names).values_list("blob", flat=True))
    )
    kept = [row for row in rows if row.name in in_use]
    going = [row for row in rows if row.name not in in_use]
    # One batched call for the whole chunk (DeleteObjects on S3); a name it refused
    # comes back with its error and is rescheduled alone.
    refused = storage.blobs_remove(names=[row.name for row in going])
    removed: list[Row] = []
    failures: list[tuple[Row, str]] = []
    for row in going:
        if row.name in refused:
            logger.warning("blob %s could not be removed: %s", row.name, refused[row.name])
            failures.append((row, refused[row.name]))
        else:
            removed.append(row)
    if kept:
        outcome.kept += BlobRemoval.objects.filter(id__in=[row.id for row in kept]).delete()[0]
        for row in kept:
            if row.counted and row.record_id is not None:
                outcome.blobs_by_record[row.record_id] -= 1
    if removed:
        # Count only rows this process finished (another may have raced us to one).
        finished = sql.delete_returning_ids(BlobRemoval._meta.db_table, [row.id for row in removed])
        for row in removed:
            if row.id in finished:
                outcome.removed += 1
                if row.record_id is not None:
                    outcome.blobs_by_record[row.record_id] += 0 if row.counted else 1
                    outcome.removed_names.setdefault(row.record_id, []).append(row.name)
    now = timezone.now()
    for row, error in failures:
        attempts = row.attempts + 1
        gave_up = attempts >= settings.OUTBOX_MAX_ATTEMPTS
        BlobRemoval.objects.filter(pk=row.id).update(
            attempts=attempts,
            not_before=now + _backoff(attempts),
            claimed_until=None,
            last_error=error[:2000],
            failed=gave_up,
            counted=False,  # whoever reports this failure takes it out of the count
        )
        if row.counted and row.record_id is not None:
            # The worker's pass reports it on the record (``_write_back``); a
            # deletion's own pass lowers its response's count, then saves it.
            outcome.blobs_by_record[row.record_id] -= 1
        entry = {
            "kind": "blob",
            "blob": row.name,
            "error": error,
            "action": GAVE_UP_ACTION if gave_up else RETRY_ACTION,
        }
        outcome.errors.append(entry)
        if gave_up and row.record_id is not None:
            outcome.gave_up.setdefault(row.record_id, []).append(entry)


def _own_rows(*, record_id: int, after: int, limit: int) -> list[Row]:
    """The next ``limit`` fresh rows of a deletion above id ``after`` (keyset order).

    Not claimed again: the deletion wrote them already held by this process for a
    lease, so the worker's sweep leaves them alone until it runs out.
    """
    rows = BlobRemoval.objects.filter(record_id=record_id, attempts=0, failed=False, id__gt=after)
    return _rows(rows.order_by("id")[:limit])


def carry_out(*, record_id: int, queued: Queued | None = None) -> Outcome:
    """Carry out a deletion's fresh outbox rows right after its commit (never raises).

    ``queued``: what the deletion wrote: rows it holds are tried without reading them
    back, those it moved from a scratch table are read back in chunks of
    ``OUTBOX_CARRY_CHUNK_SIZE`` (written leased and checked: neither claimed again
    nor checked against the file table, so three statements a chunk). Without it,
    every fresh row of the record is claimed and checked, in chunks. Failures stay
    in the outbox for the worker; they are returned for the response.
    """
    outcome = Outcome()
    try:
        if queued is not None and queued.rows:
            _attempt(queued.rows, outcome, checked=queued.checked)
        if queued is None:
            while rows := _claim(Q(record_id=record_id, attempts=0), _chunk(), own=True):
                _attempt(rows, outcome)
        elif queued.from_table:
            last = queued.from_table_after or 0
            size = int(settings.OUTBOX_CARRY_CHUNK_SIZE)
            left = queued.from_table
            while left > 0 and (rows := _own_rows(record_id=record_id, after=last, limit=size)):
                last = rows[-1].id
                left -= len(rows)
                _attempt(rows, outcome, checked=True)
    except Exception:
        logger.exception("outbox of deletion %s: left to the worker", record_id)
        outcome.errors.append(
            {
                "kind": "blob",
                "error": "blob removal was interrupted",
                "action": "the worker finishes it",
            }
        )
    return outcome


def carry_out_on_commit(*, record_id: int, queued: Queued, then: Callable[[Outcome], None]) -> None:
    """Once the deletion's transaction commits, carry out its rows (:func:`carry_out`)
    and hand the outcome to ``then``, which books it on the response and the record.

    The one way a deletion removes blobs after commit: a blob is never removed before
    the deletion of its row has committed.
    """

    def committed() -> None:
        then(carry_out(record_id=record_id, queued=queued) if queued else Outcome())

    transaction.on_commit(committed)


def carry_out_each_on_commit(
    *, queued: Mapping[int, Queued], then: Callable[[int, int, Outcome], None]
) -> None:
    """:func:`carry_out_on_commit` for the rows of several records (held in memory):
    one pass over all of them after commit, then ``then(record_id, queued, outcome)``
    for each record with that record's part of the outcome."""

    def committed() -> None:
        rows = [row for each in queued.values() for row in each.rows]
        outcome = Outcome()
        if rows:
            try:
                _attempt(rows, outcome, checked=all(each.checked for each in queued.values()))
            except Exception:
                logger.exception("outbox of deletions %s: left to the worker", sorted(queued))
                outcome.errors.append(
                    {
                        "kind": "blob",
                        "error": "blob removal was interrupted",
                        "action": "the worker finishes it",
                    }
                )
        record_of = {row.name: row.record_id for row in rows}
        for record_id, each in queued.items():
            part = Outcome(removed=len(outcome.removed_names.get(record_id, ())))
            part.errors = [
                error
                for error in outcome.errors
                if record_of.get(error.get("blob", "")) == record_id
                or ("blob" not in error and each.rows)
            ]
            then(record_id, len(each), part)

    transaction.on_commit(committed)


def sweep(*, limit: int | None = None) -> Outcome:
    """The worker's pass: every due row nobody holds, then write outcomes back.

    Due: never failed beyond the cap, its backoff over, and not held (a fresh row is
    held by its deleting process for one lease). ``limit`` bounds the rows of one
    pass (default: all that are due).
    """
    outcome = Outcome()
    taken = 0
    while limit is None or taken < limit:
        size = _chunk() if limit is None else min(_chunk(), limit - taken)
        rows = _claim(Q(not_before__lte=timezone.now()), size)
        if not rows:
            break
        taken += len(rows)
        _attempt(rows, outcome)
    _write_back(outcome)
    return outcome


def _write_back(outcome: Outcome) -> None:
    """Add the sweep's removals to their deletion records, and say where it gave up."""
    record_ids = set(outcome.blobs_by_record) | set(outcome.removed_names) | set(outcome.gave_up)
    for record_id in sorted(record_ids):
        audit.add_blob_outcome(
            record_id=record_id,
            blobs=outcome.blobs_by_record[record_id],
            removed=outcome.removed_names.get(record_id, ()),
            gave_up=outcome.gave_up.get(record_id, ()),
        )


def anything_due() -> bool:
    """Whether :func:`sweep` would find a row to carry out now."""
    now = timezone.now()
    return (
        BlobRemoval.objects.filter(failed=False, not_before__lte=now)
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
        .exists()
    )


def pending(*, record_id: int) -> int:
    """Blobs of a deletion still waiting in the outbox (failed ones included)."""
    return BlobRemoval.objects.filter(record_id=record_id).count()


# --------------------------------------------------------------------------- sockets


def chat_group(chat_id: int) -> str:
    """Channel-layer group of a chat's sockets."""
    return f"chat-{chat_id}"


def notify_chats_deleted(chat_ids: Sequence[int]) -> None:
    """Tell live sockets of deleted chats to close (best effort, after commit)."""
    send_to_groups((chat_group(chat_id) for chat_id in chat_ids), {"type": "chat.deleted"})
