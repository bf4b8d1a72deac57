"""Admin for collections and files.

Collections are deleted only through :func:`chats.services.collections_delete`
(with their files and blobs; chats linked to them stay, without the link), files
only through :func:`chats.cleanup.files_delete` (rows, then blobs after commit).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import Count, QuerySet
from django.http import HttpRequest

from chats import cleanup, services
from chats.models import Chat
from chats.services import DeletionResult
from collections_app.models import Collection, File
from neptun.admin import DeletionSpec, OwnerFilter, ServiceDeletionAdmin


def _collections_kept(
    collections: QuerySet[Collection], options: Any, preview: DeletionResult
) -> list[tuple[str, int]]:
    return [
        (
            "Chats linked to these collections (they stay, without the collection)",
            Chat.objects.filter(collection_id__in=collections.values("pk")).count(),
        )
    ]


def _files_kept(
    files: QuerySet[File], options: Any, preview: DeletionResult
) -> list[tuple[str, int]]:
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


@admin.register(Collection)
class CollectionAdmin(ServiceDeletionAdmin):
    list_display = ("name", "id", "owner", "is_global", "file_count", "created_at")
    list_filter = (
        "is_global",
        OwnerFilter,
        ("owner__tenant", admin.RelatedFieldListFilter),
        ("created_at", admin.DateFieldListFilter),
    )
    list_select_related = ("owner",)
    search_fields = ("name", "=id", "owner__email")
    date_hierarchy = "created_at"
    raw_id_fields = ("owner",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Collection]:
        return super().get_queryset(request).annotate(file_count=Count("files"))

    @admin.display(description="files", ordering="file_count")
    def file_count(self, obj: Collection) -> int:
        return obj.file_count  # type: ignore[attr-defined]

    def deletion_spec(self) -> DeletionSpec:
        return DeletionSpec(
            verb="Delete",
            intro="Each collection goes with its files and their blobs. Chats linked to it "
            "stay and lose the link.",
            preview=lambda qs, o: services.collections_delete_preview(collections=qs),
            kept=_collections_kept,
            execute=lambda qs, o, ctx: [services.collections_delete(collections=qs, ctx=ctx)],
        )


@admin.register(File)
class FileAdmin(ServiceDeletionAdmin):
    list_display = (
        "name",
        "id",
        "owner",
        "chat",
        "collection",
        "size",
        "content_type",
        "created_at",
    )
    list_filter = (
        OwnerFilter,
        ("owner__tenant", admin.RelatedFieldListFilter),
        ("chat", admin.EmptyFieldListFilter),
        ("collection", admin.EmptyFieldListFilter),
        ("created_at", admin.DateFieldListFilter),
    )
    list_select_related = ("owner", "chat", "collection")
    search_fields = ("name", "=id", "blob", "owner__email")
    date_hierarchy = "created_at"
    raw_id_fields = ("owner", "chat", "collection")
    show_full_result_count = False

    def deletion_spec(self) -> DeletionSpec:
        return DeletionSpec(
            verb="Delete",
            intro="The file rows go, then their blobs in storage once the deletion has "
            "committed. Their chats and collections stay.",
            preview=lambda qs, o: cleanup.files_delete_preview(files=qs),
            kept=_files_kept,
            execute=lambda qs, o, ctx: [cleanup.files_delete(files=qs, ctx=ctx)],
        )
