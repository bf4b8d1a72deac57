"""The rules: what goes with what. Change "what goes with a chat" here, and only here.

The engine (:mod:`chats.deletion.engine`) deletes, and its dry run counts, whatever
these rules name; the admin's "will be kept" lines count what they leave. So a
preview, the deletion and the admin's confirmation page can never disagree.

- A chat goes with its messages, project links and live-connection records (by the
  database's ``ON DELETE CASCADE``: :data:`CASCADED`), and with the files uploaded in
  it that belong to no collection (:func:`file_sets`). Collections stay; files in a
  collection only lose their chat link.
- With ``delete_files_and_collections`` (conversations endpoint): also the
  user-owned collections the chats link to, with their files — except a collection
  that a surviving chat still links to (:func:`collections_going_with`). Global
  collections and their files are never deleted this way.
- With ``keep_files`` (that flag set to false): no file is deleted; files only lose
  their chat link.
- A project goes with its links; its chats only when asked (:func:`projects`).
- A collection goes with its files; chats linked to it stay, without the link.
- A user goes with everything they own: chats, projects, collections, files, access
  tokens (:func:`users`). A tenant goes with its users, its global collections and
  its API keys (:func:`tenants`).

A :class:`Scope` is one such rule applied to a selection; the engine turns it into a
:class:`Plan` (the ids, locked) and deletes or counts it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Exists, F, Model, OuterRef, Q, QuerySet

from chats.deletion import sql
from chats.deletion.sql import IdSet
from chats.models import Chat, ChatConnection, ConversationType, Message
from collections_app.models import Collection, File
from neptun.models import AccessToken, ApiKey, DeletionRecord, Tenant, User
from projects.models import Project, ProjectChat

#: Rows that go with a chat by the database's cascade, counted by kind before it goes.
CASCADED: dict[str, type[Model]] = {
    "messages": Message,
    "links": ProjectChat,
    "connections": ChatConnection,
}


@dataclass
class Plan:
    """The ids one chunk of a deletion covers (locked, unless a dry run)."""

    chat_ids: IdSet
    collection_ids: IdSet = ()
    #: file rows named directly (the admin's file deletion, the orphan sweep)
    file_ids: IdSet = ()
    #: whether the chats' own files (in no collection) go with them
    delete_chat_files: bool = True
    by_type: Counter[str] = field(default_factory=Counter)


@dataclass(frozen=True)
class FileSet:
    """Files a plan deletes: the chats' own files, a collection's files, or listed ones."""

    #: which count of the engine's counting statement gives its size
    kind: str  # "own" | "collections" | "listed"
    where: str  # SQL condition on the files table
    params: list[Any]
    files: QuerySet[File]  # the same set as a queryset


def file_sets(plan: Plan) -> Iterator[FileSet]:
    """The files going with a plan, one set per statement."""
    if plan.delete_chat_files:
        for ids in sql.id_sets(plan.chat_ids):
            among, params = sql.where_in("chat_id", ids)
            yield FileSet(
                "own",
                f"{among} AND collection_id IS NULL",
                params,
                File.objects.filter(chat_id__in=sql.in_ids(ids), collection__isnull=True),
            )
    for ids in sql.id_sets(plan.collection_ids):
        among, params = sql.where_in("collection_id", ids)
        yield FileSet(
            "collections", among, params, File.objects.filter(collection_id__in=sql.in_ids(ids))
        )
    for ids in sql.id_sets(plan.file_ids):
        among, params = sql.where_in("id", ids)
        yield FileSet("listed", among, params, File.objects.filter(id__in=sql.in_ids(ids)))


def collections_going_with(chat_ids: IdSet, owner: User) -> IdSet:
    """User-owned collections linked only from the chats being deleted.

    Up to ``SMALL_ID_SELECTION`` of them come back as a list; more are staged.
    """
    selected = sql.in_ids(chat_ids)
    linked = Chat.objects.filter(id__in=selected, collection__isnull=False).values("collection_id")
    # A collection that a surviving chat (of anyone) still links to stays.
    survivors = Chat.objects.filter(collection_id=OuterRef("pk")).exclude(id__in=selected)
    going = Collection.objects.filter(id__in=linked, owner=owner, is_global=False).exclude(
        Exists(survivors)
    )
    return sql.stage_ids(going, table=sql.SCRATCH_COLLECTIONS)


def collections_no_chat_links(collection_ids: IdSet) -> list[int]:
    """Of these collections, those no chat links to any more (a large purge checks
    again once every selected chat is gone: a chat still linking is a survivor)."""
    candidates = sql.in_ids(collection_ids)
    still_used = Chat.objects.filter(collection_id__in=candidates).values("collection_id")
    return list(
        Collection.objects.filter(id__in=candidates)
        .exclude(id__in=still_used)
        .order_by("id")
        .values_list("id", flat=True)
    )


#: Work of a deletion beyond its chats, collections and files (projects, users):
#: called with the plan's chat ids and ``dry_run``; returns counts and the files it
#: deletes (``None``: none), so a dry run counts their blobs with the plan's.
#: Executing, it queues the blob names of the files it deletes in the database.
Also = Callable[[IdSet, bool], tuple[Counter[str], QuerySet[File] | None]]


@dataclass(frozen=True)
class Scope:
    """One rule applied to a selection: what a deletion covers, before any lock."""

    chats: QuerySet[Chat]
    #: no file goes; files only lose their chat link
    keep_files: bool = False
    #: the owner whose collections go with the chats (see :func:`collections_going_with`)
    collections_of: User | None = None
    #: collections going whatever the chats; called with whether to lock them
    collections: Callable[[bool], list[int]] | None = None
    #: file rows going by name
    files: QuerySet[File] | None = None
    also: Also | None = None
    #: ``True``: at most ``sql.SMALL_SELECTION`` chats (one chat, a short list of ids),
    #: listed without asking; ``False``: known to be larger, staged without asking;
    #: ``None``: not known, so a bounded count decides (see :func:`sql.stage_chats`)
    small_ok: bool | None = None

    def collections_for(self, chat_ids: IdSet, *, lock: bool) -> IdSet:
        """The collections going with these chats."""
        if self.collections is not None:
            return self.collections(lock)
        if self.collections_of is not None and not self.keep_files:
            return collections_going_with(chat_ids, self.collections_of)
        return []

    @property
    def rechecks_collections(self) -> bool:
        """Whether a collection going with the chats stays if a chat still links it."""
        return self.collections_of is not None


def _ids(queryset: QuerySet[Any], *, lock: bool) -> list[int]:
    ordered = queryset.order_by("id")
    if lock:
        ordered = ordered.select_for_update()
    return list(ordered.values_list("id", flat=True))


# --------------------------------------------------------------------------- scopes


def chats(chats: QuerySet[Chat], *, small_ok: bool | None = None) -> Scope:
    """Chats with what goes with them (see the module docstring)."""
    return Scope(chats, small_ok=small_ok)


@dataclass(frozen=True)
class ConversationFlags:
    """The five options of the conversations endpoint (all default to true)."""

    delete_files_and_collections: bool = True
    delete_regular_chats: bool = True
    delete_user_file_conversations: bool = True
    delete_global_collection_conversations: bool = True
    delete_null_conversations: bool = True

    def _types(self) -> Q:
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
        return condition

    def selected_chats(self, user: User) -> QuerySet[Chat]:
        return Chat.objects.filter(self._types(), owner=user)

    def chats_of(self, users: QuerySet[User]) -> QuerySet[Chat]:
        """The selected conversations of all these users (one subquery, no loop)."""
        return Chat.objects.filter(self._types(), owner_id__in=users.values("pk"))


def conversations(*, user: User, flags: ConversationFlags) -> Scope:
    """A user's conversations of the selected types; with ``delete_files_and_collections``
    also the collections going with them, else no file at all."""
    return Scope(
        flags.selected_chats(user),
        keep_files=not flags.delete_files_and_collections,
        collections_of=user if flags.delete_files_and_collections else None,
    )


def users_conversations(*, users: QuerySet[User], flags: ConversationFlags) -> Scope:
    """The conversations of several users at once, as :func:`conversations` of each.

    The collection rule for many users: a collection goes with the conversations
    when it belongs to one of these users (never a global one), a deleted chat *of
    its owner* links it, and no chat that stays — anyone's — links it. So a
    collection that two selected users' chats share goes (every chat linking it is
    being deleted), which deleting the users one after the other would decide by
    their order; one that only another user's chat links stays, as it does for its
    owner alone.
    """
    selected = flags.chats_of(users)
    if not flags.delete_files_and_collections:
        return Scope(selected, keep_files=True)

    def going(lock: bool) -> list[int]:
        of_their_owner = selected.filter(collection__owner_id=F("owner_id"))
        survivors = Chat.objects.filter(collection_id=OuterRef("pk")).exclude(
            id__in=selected.values("pk")
        )
        candidates = Collection.objects.filter(
            id__in=of_their_owner.values("collection_id"), is_global=False
        ).exclude(Exists(survivors))
        return _ids(candidates, lock=lock)

    return Scope(selected, collections=going)


def collections(collections: QuerySet[Collection]) -> Scope:
    """Collections with their files; chats linked to them stay (link set NULL)."""
    return Scope(Chat.objects.none(), collections=lambda lock: _ids(collections, lock=lock))


def files(files: QuerySet[File]) -> Scope:
    """File rows (their blobs after commit); chats and collections stay."""
    return Scope(Chat.objects.none(), files=files)


def chats_of_projects(projects: QuerySet[Project]) -> QuerySet[Chat]:
    return Chat.objects.filter(
        pk__in=ProjectChat.objects.filter(project_id__in=projects.values("pk")).values("chat_id")
    )


def projects(projects: QuerySet[Project], *, with_chats: bool) -> Scope:
    """Projects with their links; their chats (with what goes with a chat) if asked."""
    project_ids = list(projects.order_by("id").values_list("id", flat=True))
    selected = (
        Chat.objects.filter(
            pk__in=ProjectChat.objects.filter(project_id__in=project_ids).values("chat_id")
        )
        if with_chats
        else Chat.objects.none()
    )

    def also(chat_ids: IdSet, dry_run: bool) -> tuple[Counter[str], QuerySet[File] | None]:
        # Links of deleted chats are counted with the chats; count the rest here.
        counts: Counter[str] = Counter()
        for ids in sql.chunks(project_ids):
            links = ProjectChat.objects.filter(project_id__in=ids)
            if chat_ids:
                links = links.exclude(chat_id__in=sql.in_ids(chat_ids))
            rows = Project.objects.filter(id__in=ids)
            if dry_run:
                counts["links"] += links.count()
                counts["projects"] += rows.count()
            else:
                counts["links"] += links.delete()[0]
                counts["projects"] += rows.delete()[0]
        return counts, None

    return Scope(selected, also=also)


def users(users: QuerySet[User]) -> Scope:
    """Users and everything they own, blobs included."""
    user_ids = list(users.order_by("id").values_list("id", flat=True))
    owned_collections, also = _owned_by(user_ids, tenant_ids=())
    return Scope(
        Chat.objects.filter(owner_id__in=user_ids), collections=owned_collections, also=also
    )


def _owned_by(
    user_ids: list[int], *, tenant_ids: Sequence[int]
) -> tuple[Callable[[bool], list[int]], Also]:
    """The collections of these users (and of ``tenant_ids``: tenants deleted with
    them, whose global collections go too), and the rest they own."""

    def owned_collections(lock: bool) -> list[int]:
        owned = Collection.objects.filter(Q(owner_id__in=user_ids) | Q(tenant_id__in=tenant_ids))
        return _ids(owned, lock=lock)

    def also(chat_ids: IdSet, dry_run: bool) -> tuple[Counter[str], QuerySet[File] | None]:
        # Whatever the users own that the chat/collection plan did not cover.
        counts: Counter[str] = Counter()
        links = ProjectChat.objects.filter(project__owner_id__in=user_ids)
        owned_projects = Project.objects.filter(owner_id__in=user_ids)
        tokens = AccessToken.objects.filter(user_id__in=user_ids)
        everything_left = File.objects.filter(owner_id__in=user_ids)
        if dry_run:
            left = (
                everything_left.exclude(collection__owner_id__in=user_ids)
                .exclude(collection__tenant_id__in=tenant_ids)
                .exclude(chat__owner_id__in=user_ids, collection__isnull=True)
            )
            counts["files"] += left.count()
            # Links of the plan's chats go with them (counted with the chats).
            if chat_ids:
                links = links.exclude(chat_id__in=sql.in_ids(chat_ids))
            counts["links"] += links.count()
            counts["projects"] += owned_projects.count()
            counts["access_tokens"] += tokens.count()
            counts["users"] = len(user_ids)
            return counts, everything_left
        # Tokens go by the database's cascade with their user: counted first.
        counts["access_tokens"] += tokens.count()
        sql.queue_blobs(everything_left)  # removed after commit, with the plan's blobs
        counts["files"] += everything_left.delete()[0]
        counts["links"] += links.delete()[0]
        counts["projects"] += owned_projects.delete()[0]
        deleted = User.objects.filter(id__in=user_ids).delete()[1]
        counts["users"] = deleted.get(User._meta.label, 0)
        return counts, None

    return owned_collections, also


def tenants(tenants: QuerySet[Tenant]) -> Scope:
    """Tenants: their users with everything those own, their global collections with
    their files, their API keys, the rows."""
    tenant_ids = list(tenants.order_by("id").values_list("id", flat=True))
    user_ids = list(
        User.objects.filter(tenant_id__in=tenant_ids).order_by("id").values_list("id", flat=True)
    )
    owned_collections, user_also = _owned_by(user_ids, tenant_ids=tenant_ids)

    def also(chat_ids: IdSet, dry_run: bool) -> tuple[Counter[str], QuerySet[File] | None]:
        # The users first (``User.tenant`` is DO_NOTHING), then keys and tenants.
        counts, left = user_also(chat_ids, dry_run)
        keys = ApiKey.objects.filter(tenant_id__in=tenant_ids)
        rows = Tenant.objects.filter(id__in=tenant_ids)
        if dry_run:
            counts["api_keys"] += keys.count()
            counts["tenants"] += rows.count()
        else:
            counts["api_keys"] += keys.delete()[0]
            counts["tenants"] += rows.delete()[0]
        return counts, left

    return Scope(
        Chat.objects.filter(owner_id__in=user_ids), collections=owned_collections, also=also
    )


# --------------------------------------------------------------------------- what stays
#
# The admin's confirmation page lists, beside the preview's counts, what the
# deletion leaves: one ``(label, count)`` per line, from aggregate queries.

Kept = list[tuple[str, int]]


def chats_kept(chats: QuerySet[Chat]) -> Kept:
    """What stays when these chats go."""
    ids = chats.values("pk")
    return [
        (
            "Files in collections (they only lose their link to the chat)",
            File.objects.filter(chat_id__in=ids, collection__isnull=False).count(),
        ),
        (
            "Collections these chats link to",
            Collection.objects.filter(id__in=chats.values("collection_id")).count(),
        ),
        (
            "Projects these chats are in (only the links go)",
            Project.objects.filter(
                id__in=ProjectChat.objects.filter(chat_id__in=ids).values("project_id")
            ).count(),
        ),
    ]


def projects_kept(projects: QuerySet[Project], *, with_chats: bool) -> Kept:
    """What stays when these projects go, with or without their chats."""
    linked = chats_of_projects(projects)
    if not with_chats:
        return [("Chats linked to these projects (they only lose the link)", linked.count())]
    other_projects = Project.objects.filter(
        id__in=ProjectChat.objects.filter(chat_id__in=linked.values("pk")).values("project_id")
    ).exclude(id__in=projects.values("pk"))
    files_in_collections, linked_collections, _projects = chats_kept(linked)
    return [
        files_in_collections,
        linked_collections,
        ("Other projects these chats are also in (only the links go)", other_projects.count()),
    ]


def users_conversations_kept(users: QuerySet[User], *, flags: ConversationFlags) -> Kept:
    """What stays of these users' conversations, their files and collections, when
    :func:`users_conversations` goes (aggregate queries; no loop over the users)."""
    selected = flags.chats_of(users)
    linked = Collection.objects.filter(
        id__in=selected.filter(collection__isnull=False).values("collection_id")
    )
    going_collections = users_conversations(users=users, flags=flags).collections
    going_ids = going_collections(False) if going_collections is not None else []
    touched = File.objects.filter(
        Q(chat_id__in=selected.values("pk")) | Q(collection_id__in=linked.values("pk"))
    )
    if flags.delete_files_and_collections:
        touched = touched.exclude(
            Q(chat_id__in=selected.values("pk"), collection__isnull=True)
            | Q(collection_id__in=going_ids)
        )
    return [
        (
            "Their conversations of the types not selected",
            Chat.objects.filter(owner_id__in=users.values("pk"))
            .exclude(id__in=selected.values("pk"))
            .count(),
        ),
        ("Files of these chats or their collections that stay", touched.count()),
        (
            "Collections these chats link to that stay (global, still used, or kept)",
            linked.exclude(id__in=going_ids).count(),
        ),
    ]


def users_kept(users: QuerySet[User]) -> Kept:
    """What stays when these users go."""
    ids = users.values("pk")
    return [
        (
            "Deletion records naming them (the audit trail keeps their email)",
            DeletionRecord.objects.filter(actor_id__in=ids).count(),
        ),
        (
            "Global collections their chats link to (never deleted by a user)",
            Collection.objects.filter(
                is_global=True,
                id__in=Chat.objects.filter(owner_id__in=ids).values("collection_id"),
            ).count(),
        ),
        (
            "Chats of other users that lose their link to these users' collections",
            Chat.objects.filter(collection__owner_id__in=ids).exclude(owner_id__in=ids).count(),
        ),
    ]


def tenants_kept(tenants: QuerySet[Tenant]) -> Kept:
    """What stays when these tenants go."""
    tenant_users = User.objects.filter(tenant__in=tenants).values("pk")
    return [
        (
            "Deletion records naming their users (the audit trail keeps their email)",
            DeletionRecord.objects.filter(actor_id__in=tenant_users).count(),
        ),
        (
            "Chats of other tenants' users linked to their global collections (they stay, "
            "without the link)",
            Chat.objects.filter(collection__tenant__in=tenants)
            .exclude(owner__tenant__in=tenants)
            .count(),
        ),
    ]


def collections_kept(collections: QuerySet[Collection]) -> Kept:
    """What stays when these collections go."""
    return [
        (
            "Chats linked to these collections (they stay, without the collection)",
            Chat.objects.filter(collection_id__in=collections.values("pk")).count(),
        )
    ]


def files_kept(files: QuerySet[File]) -> Kept:
    """What stays when these files go."""
    return [
        (
            "Chats these files were uploaded in",
            Chat.objects.filter(id__in=files.values("chat_id")).count(),
        ),
        (
            "Collections these files are in",
            Collection.objects.filter(id__in=files.values("collection_id")).count(),
        ),
    ]
