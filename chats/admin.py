"""Admin for chats, messages and live connections.

Chats are deleted only through :func:`chats.services.chats_delete` (bulk action,
"Delete selected chats", the single delete page). Messages and connection records
are browse-only: messages go with their chat, stale connection records with
``manage.py cleanup_orphans`` (or "Purge orphans" on the deletion records page).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from chats.deletion import rules
from chats.models import (
    BlobRemoval,
    Chat,
    ChatConnection,
    ConversationType,
    Message,
    ScheduledJob,
)
from neptun.admin import OwnerFilter, ReadOnlyAdmin, can_purge_orphans
from neptun.admin_deletion import AdminDeletion, ServiceDeletionAdmin


class ConversationTypeFilter(admin.SimpleListFilter):
    """The conversation types, NULL ("no type") included."""

    title = "conversation type"
    parameter_name = "type"
    NULL = "null"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> Any:
        return [*ConversationType.choices, (self.NULL, "No type (NULL)")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Chat]) -> QuerySet[Chat]:
        value = self.value()
        if value == self.NULL:
            return queryset.filter(conversation_type__isnull=True)
        if value in ConversationType.values:
            return queryset.filter(conversation_type=value)
        return queryset


@admin.register(Chat)
class ChatAdmin(ServiceDeletionAdmin):
    list_display = ("title_or_uuid", "id", "owner", "conversation_type", "collection", "created_at")
    list_display_links = ("title_or_uuid",)
    list_filter = (
        ConversationTypeFilter,
        OwnerFilter,
        ("owner__tenant", admin.RelatedFieldListFilter),
        ("created_at", admin.DateFieldListFilter),
        ("collection", admin.EmptyFieldListFilter),
    )
    list_select_related = ("owner", "collection")
    search_fields = ("title", "=uuid", "=id", "owner__email")
    date_hierarchy = "created_at"
    raw_id_fields = ("owner", "collection")
    readonly_fields = ("uuid", "created_at", "updated_at", "message_count")
    show_full_result_count = False  # one COUNT per page is enough on big tables
    change_list_template = "admin/chats/chat/change_list.html"

    @admin.display(description="chat", ordering="title")
    def title_or_uuid(self, obj: Chat) -> str:
        return obj.title or str(obj.uuid)

    deletion = AdminDeletion(
        door="chats_delete",
        argument="chats",
        kept=rules.chats_kept,
        intro="Each chat goes with its messages, project links, live-connection records "
        "and the files uploaded in it that belong to no collection (blobs included).",
    )

    def changelist_view(self, request: HttpRequest, extra_context: Any = None):
        extra = {**(extra_context or {}), "can_purge": can_purge_orphans(request)}
        return super().changelist_view(request, extra)


@admin.register(Message)
class MessageAdmin(ReadOnlyAdmin):
    """Browse only: a message goes with its chat."""

    list_display = ("short", "role", "chat", "created_at")
    list_filter = ("role", ("created_at", admin.DateFieldListFilter))
    list_select_related = ("chat",)
    search_fields = ("=chat__uuid", "=chat__id", "content")
    raw_id_fields = ("chat",)
    show_full_result_count = False

    @admin.display(description="content")
    def short(self, obj: Message) -> str:
        return obj.content[:80]


@admin.register(ChatConnection)
class ChatConnectionAdmin(ReadOnlyAdmin):
    """Browse only: records are written by the WebSocket consumer and swept when stale."""

    list_display = ("connection_id", "chat", "opened_at", "last_seen_at")
    list_filter = (("last_seen_at", admin.DateFieldListFilter),)
    list_select_related = ("chat",)
    search_fields = ("connection_id", "=chat__uuid", "=chat__id")
    raw_id_fields = ("chat",)


@admin.register(BlobRemoval)
class BlobRemovalAdmin(ReadOnlyAdmin):
    """Browse only: the outbox of blob removals (chats/deletion/effects.py). A row is
    a blob whose file is gone and that storage has not confirmed removed yet; one
    marked failed gave up after ``OUTBOX_MAX_ATTEMPTS`` tries."""

    list_display = ("name", "record", "attempts", "not_before", "failed", "created_at")
    list_filter = ("failed",)
    search_fields = ("name",)
    raw_id_fields = ("record",)
    show_full_result_count = False


@admin.register(ScheduledJob)
class ScheduledJobAdmin(ReadOnlyAdmin):
    """Browse only: when each periodic job of the worker is next due."""

    list_display = ("name", "next_run_at", "last_enqueued_at")
