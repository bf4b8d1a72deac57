"""The doors of the deletion package: one typed, keyword-only function per deletion,
and its ``*_preview``, a dry run of the same engine.

Every entry point — the three API dialects, the admin actions, the management
commands and the background jobs — translates its input into a call here and the
result into its output. Each function names a rule of :mod:`chats.deletion.rules`
and runs it with :func:`chats.deletion.engine.run`; a door that must check what it
found before deleting (the chat exists, nobody is connected, every id was found)
plans first, checks, and hands the plan to the engine in the same transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from chats.deletion import engine, grouped, rules, sql
from chats.deletion.result import DeletionContext, DeletionResult, Progress
from chats.deletion.rules import ConversationFlags
from chats.models import Chat, ChatConnection
from collections_app.models import Collection, File
from neptun.exceptions import Conflict, NotFound
from neptun.models import Tenant, User
from projects.models import Project


def _live_cutoff() -> datetime:
    """A socket whose last heartbeat is older than this is not live any more."""
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
    scope = rules.chats(selection, small_ok=True)
    # One statement counts the children and, for v1, the live sockets.
    planned = engine.plan(scope=scope, live_since=_live_cutoff() if refuse_if_connected else None)
    if len(planned.plan.chat_ids) != 1:
        raise NotFound("Chat not found")
    if planned.children.live_connections:
        raise Conflict(
            "Chat has active WebSocket connections; close them and try again.",
            active_connections=planned.children.live_connections,
        )
    return engine.run(scope=scope, ctx=ctx, planned=planned)


def chats_delete(
    *, chats: QuerySet[Chat], ctx: DeletionContext, progress: Progress | None = None
) -> DeletionResult:
    """Delete the selected chats (admin bulk action); batched when large."""
    return engine.run(scope=rules.chats(chats), ctx=ctx, progress=progress)


def chats_delete_preview(*, chats: QuerySet[Chat]) -> DeletionResult:
    """What :func:`chats_delete` would remove; deletes nothing."""
    return engine.preview(scope=rules.chats(chats))


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
        id__in=sql.in_ids(storable), owner=owner, project_links__project=project
    )
    scope = rules.chats(chats, small_ok=len(storable) <= sql.SMALL_SELECTION)
    planned = engine.plan(scope=scope)
    found = planned.plan.chat_ids
    missing = [] if len(found) == len(wanted) else sorted(set(wanted) - set(sql.as_list(found)))
    if missing:
        raise NotFound(
            "Chats not found in project: " + ", ".join(str(i) for i in missing),
            missing_ids=missing,
        )
    return engine.run(scope=scope, ctx=ctx, planned=planned)


def conversations_delete(
    *,
    user: User,
    flags: ConversationFlags,
    ctx: DeletionContext,
    progress: Progress | None = None,
) -> DeletionResult:
    """Delete a user's conversations of the selected types (see :mod:`.rules`)."""
    return engine.run(scope=rules.conversations(user=user, flags=flags), ctx=ctx, progress=progress)


def conversations_delete_preview(*, user: User, flags: ConversationFlags) -> DeletionResult:
    """What :func:`conversations_delete` would remove; deletes nothing."""
    return engine.preview(scope=rules.conversations(user=user, flags=flags))


def users_conversations_delete(
    *,
    users: QuerySet[User],
    flags: ConversationFlags,
    ctx: DeletionContext,
    progress: Progress | None = None,
) -> list[DeletionResult]:
    """Delete the conversations of several users at once (the admin's action): one
    deletion in one transaction, one result and record per user, in id order, with
    that user's counts (see :mod:`.grouped`; the collection rule for many users is
    :func:`.rules.users_conversations`)."""
    owners = list(users.order_by("pk").values_list("pk", flat=True))
    scope = rules.users_conversations(users=users, flags=flags)
    return grouped.run_by_owner(scope=scope, owners=owners, ctx=ctx, progress=progress)


def users_conversations_delete_preview(
    *, users: QuerySet[User], flags: ConversationFlags
) -> DeletionResult:
    """What :func:`users_conversations_delete` would remove, all users together."""
    return engine.preview(scope=rules.users_conversations(users=users, flags=flags))


def projects_delete(
    *,
    projects: QuerySet[Project],
    with_chats: bool,
    ctx: DeletionContext,
    progress: Progress | None = None,
) -> DeletionResult:
    """Delete projects with their links; their chats too when ``with_chats``."""
    scope = rules.projects(projects, with_chats=with_chats)
    return engine.run(scope=scope, ctx=ctx, progress=progress)


def projects_delete_preview(*, projects: QuerySet[Project], with_chats: bool) -> DeletionResult:
    """What :func:`projects_delete` would remove; deletes nothing."""
    return engine.preview(scope=rules.projects(projects, with_chats=with_chats))


@transaction.atomic
def collections_delete(
    *, collections: QuerySet[Collection], ctx: DeletionContext
) -> DeletionResult:
    """Delete collections with their files. Chats linked to them stay (link set NULL)."""
    return engine.run(scope=rules.collections(collections), ctx=ctx)


def collections_delete_preview(*, collections: QuerySet[Collection]) -> DeletionResult:
    """What :func:`collections_delete` would remove; deletes nothing."""
    return engine.preview(scope=rules.collections(collections))


@transaction.atomic
def files_delete(*, files: QuerySet[File], ctx: DeletionContext) -> DeletionResult:
    """Delete file rows and, after commit, their blobs (the admin's file deletion)."""
    return engine.run(scope=rules.files(files), ctx=ctx)


def files_delete_preview(*, files: QuerySet[File]) -> DeletionResult:
    """What :func:`files_delete` would remove; deletes nothing."""
    return engine.preview(scope=rules.files(files))


def users_delete(
    *, users: QuerySet[User], ctx: DeletionContext, progress: Progress | None = None
) -> DeletionResult:
    """Delete users and everything they own, blobs included; batched when large."""
    return engine.run(scope=rules.users(users), ctx=ctx, progress=progress)


def users_delete_preview(*, users: QuerySet[User]) -> DeletionResult:
    """What :func:`users_delete` would remove; deletes nothing."""
    return engine.preview(scope=rules.users(users))


def tenants_delete(
    *, tenants: QuerySet[Tenant], ctx: DeletionContext, progress: Progress | None = None
) -> DeletionResult:
    """Delete tenants: their users with everything those own, their global collections
    with their files, their API keys, the rows."""
    return engine.run(scope=rules.tenants(tenants), ctx=ctx, progress=progress)


def tenants_delete_preview(*, tenants: QuerySet[Tenant]) -> DeletionResult:
    """What :func:`tenants_delete` would remove; deletes nothing."""
    return engine.preview(scope=rules.tenants(tenants))
