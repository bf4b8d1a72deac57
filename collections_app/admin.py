"""Admin for collections and files.

A collection's tenant is its owner's, or — for a global collection — the one the
admin chose (required: the model's validation and a database constraint). The list
shows and filters by that tenant.

Collections are deleted only through :func:`chats.services.collections_delete`
(with their files and blobs; chats linked to them stay, without the link), files
only through :func:`chats.services.files_delete` (rows, then blobs after commit).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.admin.options import csrf_protect_m
from django.db import transaction
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest

from chats.deletion import rules
from collections_app.models import Collection, File, remove_blob_quietly
from neptun.admin import OwnerFilter
from neptun.admin_deletion import AdminDeletion, ServiceDeletionAdmin
from neptun.models import Tenant


class CollectionTenantFilter(admin.SimpleListFilter):
    """``?tenant=<id>``: the tenant's global collections and its users' own ones."""

    title = "tenant"
    parameter_name = "tenant"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [
            (str(pk), name)
            for pk, name in Tenant.objects.order_by("name", "id").values_list("pk", "name")
        ]

    def queryset(
        self, request: HttpRequest, queryset: QuerySet[Collection]
    ) -> QuerySet[Collection]:
        value = self.value()
        if not value:
            return queryset
        if not value.isdigit():
            return queryset.none()
        return queryset.filter(Q(tenant_id=int(value)) | Q(owner__tenant_id=int(value)))


@admin.register(Collection)
class CollectionAdmin(ServiceDeletionAdmin):
    list_display = ("name", "id", "owner", "is_global", "tenant_name", "file_count", "created_at")
    list_filter = (
        "is_global",
        CollectionTenantFilter,
        OwnerFilter,
        ("created_at", admin.DateFieldListFilter),
    )
    list_select_related = ("owner", "owner__tenant", "tenant")
    search_fields = ("name", "=id", "owner__email", "tenant__name")
    date_hierarchy = "created_at"
    fields = ("name", "is_global", "tenant", "owner", "created_at")
    raw_id_fields = ("owner", "tenant")
    readonly_fields = ("created_at",)

    @admin.display(description="tenant", ordering="tenant__name")
    def tenant_name(self, obj: Collection) -> str:
        """The global collection's tenant, or the owner's."""
        tenant = obj.tenant if obj.is_global else getattr(obj.owner, "tenant", None)
        return tenant.name if tenant is not None else "—"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Collection]:
        return super().get_queryset(request).annotate(file_count=Count("files"))

    @admin.display(description="files", ordering="file_count")
    def file_count(self, obj: Collection) -> int:
        return obj.file_count  # type: ignore[attr-defined]

    deletion = AdminDeletion(
        door="collections_delete",
        argument="collections",
        kept=rules.collections_kept,
        intro="Each collection goes with its files and their blobs. Chats linked to it "
        "stay and lose the link.",
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

    deletion = AdminDeletion(
        door="files_delete",
        argument="files",
        kept=rules.files_kept,
        intro="The file rows go, then their blobs in storage once the deletion has "
        "committed. Their chats and collections stay.",
    )

    @csrf_protect_m
    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        """The file form outside Django's transaction around every POST: the upload
        is written to storage first (an upload to S3 may take seconds; inside a
        transaction it would keep it open, on SQLite holding the database's write
        lock), then the row is saved in a short transaction (:meth:`save_model`)."""
        # ModelAdmin._changeform_view (the view without its transaction) is not in the stubs.
        return self._changeform_view(request, object_id, form_url, extra_context)  # type: ignore[attr-defined]

    def save_model(self, request: HttpRequest, obj: File, form: Any, change: bool) -> None:
        """Write a new upload's blob, then save the row in its own transaction; if the
        row fails, the blob goes again (as ``POST /api/files`` does)."""
        # FieldFile._committed (False until the upload is written) is not in the stubs.
        upload = obj.blob if obj.blob and not obj.blob._committed else None  # type: ignore[attr-defined]
        if upload is not None:
            upload.save(upload.name or "upload", upload.file, save=False)
        try:
            with transaction.atomic():
                super().save_model(request, obj, form, change)
        except BaseException:
            if upload is not None:
                remove_blob_quietly(upload.storage, upload.name)
            raise
