"""One deletion over many owners, with one record per owner.

The admin's "Delete conversations of selected users…" deletes the conversations of
every selected user at once — one plan (one locking pass), one execute, in one
transaction — but its audit trail stays what deleting each user's conversations
would write: one ``DeletionRecord`` per user, with that user's counts. Those counts
come from grouped statements (``GROUP BY`` owner) taken while the rows are locked,
before they go, so the number of statements does not grow with the number of users.

What is booked to whom: a chat, and what goes with it by cascade or as its own
file, to the chat's owner; a collection, and its files, to the collection's owner;
a blob that files of several owners shared, to the lowest owner id (it is removed
once). The per-owner counts therefore add up to what the deletion as a whole
removed, and to its preview.

A background job (``ctx.record_id``) has one record the staff member follows: it
gets the whole deletion's counts, and no per-owner record is written beside it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence

from django.db import transaction
from django.db.models import Count, Min, Q, QuerySet
from django.db.models.functions import Coalesce

from chats.deletion import audit, effects, engine, rules, sql
from chats.deletion.result import TYPE_KEYS, DeletionContext, DeletionResult, Progress
from chats.deletion.rules import Plan, Scope
from chats.models import Chat, ChatConnection
from collections_app.models import Collection, File


def _going_files(plan: Plan) -> QuerySet[File] | None:
    """The files the plan deletes, as one queryset (``None``: none)."""
    going = Q()
    any_set = False
    for file_set in rules.file_sets(plan):
        going |= Q(pk__in=file_set.files.values("pk"))
        any_set = True
    return File.objects.filter(going) if any_set else None


def _booked_to() -> Coalesce:
    """Whose a going file is: its collection's owner, else its chat's."""
    return Coalesce("collection__owner_id", "chat__owner_id")


def owner_counts(plan: Plan) -> dict[int, DeletionResult]:
    """What the plan deletes of each owner (blobs aside): grouped statements, one
    per kind and id set, never one per owner."""
    results: dict[int, DeletionResult] = {}

    def of(owner_id: int) -> DeletionResult:
        return results.setdefault(owner_id, DeletionResult())

    for ids in sql.id_sets(plan.chat_ids):
        chats = Chat.objects.filter(id__in=sql.in_ids(ids)).order_by()
        for chat in chats.values("owner_id", "conversation_type").annotate(n=Count("pk")):
            result = of(chat["owner_id"])
            result.counts["chats"] += chat["n"]
            result.by_type[TYPE_KEYS.get(chat["conversation_type"], "null")] += chat["n"]
        for kind, model in rules.CASCADED.items():
            rows = (
                model._default_manager.filter(chat_id__in=sql.in_ids(ids))
                .order_by()
                .values("chat__owner_id")
                .annotate(n=Count("pk"))
            )
            for row in rows:
                of(row["chat__owner_id"]).counts[kind] += row["n"]
    for ids in sql.id_sets(plan.collection_ids):
        collections = (
            Collection.objects.filter(id__in=sql.in_ids(ids))
            .order_by()
            .values("owner_id")
            .annotate(n=Count("pk"))
        )
        for collection in collections:
            of(collection["owner_id"]).counts["collections"] += collection["n"]
    going = _going_files(plan)
    if going is not None:
        files = going.order_by().values(booked_to=_booked_to()).annotate(n=Count("pk"))
        for file in files:
            of(file["booked_to"]).counts["files"] += file["n"]
    return results


def blob_owners(plan: Plan) -> dict[str, int]:
    """Each blob name of the plan's files, and the owner its removal is booked to."""
    going = _going_files(plan)
    if going is None:
        return {}
    rows = going.exclude(blob="").order_by().values("blob").annotate(booked_to=Min(_booked_to()))
    return {row["blob"]: row["booked_to"] for row in rows}


def _connected(chat_ids: sql.IdSet) -> list[int]:
    """Chats of the plan with socket records (to tell after commit)."""
    connected: list[int] = []
    for ids in sql.id_sets(chat_ids):
        connected.extend(
            ChatConnection.objects.filter(chat_id__in=sql.in_ids(ids))
            .order_by()
            .values_list("chat_id", flat=True)
            .distinct()
        )
    return connected


def _settle(results: dict[int, DeletionResult]) -> Callable[[int, int, effects.Outcome], None]:
    """Book a record's outbox outcome on its result, and on the record when it
    differs from the ``expected`` removals (storage refused some, or some were in use)."""

    def then(record_id: int, expected: int, outcome: effects.Outcome) -> None:
        result = results[record_id]
        result.counts["blobs"] += outcome.removed - expected
        result.errors.extend(outcome.errors)
        if outcome.errors or outcome.removed != expected:
            audit.save(result=result)

    return then


@transaction.atomic
def run_by_owner(
    *,
    scope: Scope,
    owners: Sequence[int],
    ctx: DeletionContext,
    progress: Progress | None = None,
) -> list[DeletionResult]:
    """Delete what ``scope`` covers in one transaction; one result (and record) per
    owner of ``owners``, in their order — an owner with nothing to delete too, as
    deleting that owner's conversations alone would record it."""
    planned = engine.plan(scope=scope)
    by_owner = owner_counts(planned.plan)
    # An owner the selection gained since ``owners`` was read still gets its record.
    owners = [*owners, *sorted(set(by_owner) - set(owners))]
    blobs = blob_owners(planned.plan)
    connected = _connected(planned.plan.chat_ids)
    deleted = engine.execute(plan=planned.plan, children=planned.children)
    names_of: dict[int, list[str]] = {owner: [] for owner in owners}
    for name in deleted.blob_names:
        names_of[blobs[name]].append(name)
    results = [by_owner.get(owner, DeletionResult()) for owner in owners]
    for owner, result in zip(owners, results, strict=True):
        result.counts["blobs"] = len(names_of[owner])
    if ctx.record_id is not None:
        whole = DeletionResult(counts=Counter(deleted.counts), by_type=planned.plan.by_type)
        whole.counts["blobs"] = len(deleted.blob_names)
        records = [audit.write(ctx=ctx, result=whole)]
        results, names = [whole], [deleted.blob_names]
    else:
        records = audit.write_each(ctx=ctx, results=results)
        names = [names_of[owner] for owner in owners]
    for result, record in zip(results, records, strict=True):
        result.record_id, result.deleted_at = record.pk, record.created_at
    queued = effects.queue_blob_removals_each(
        names={record.pk: n for record, n in zip(records, names, strict=True)}, checked=True
    )
    by_record = {record.pk: result for record, result in zip(records, results, strict=True)}
    effects.carry_out_each_on_commit(queued=queued, then=_settle(by_record))
    if connected:
        transaction.on_commit(lambda: effects.notify_chats_deleted(connected))
    report = progress or ctx.progress
    if report is not None:
        report(1, 1)
    for result in results:
        audit.log(ctx=ctx, result=result)
    return results
