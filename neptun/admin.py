"""Admin for identity and audit: users, tenants, keys, tokens, deletion records.

Users and tenants are deleted through the deletion service like every model's
rows: their admins declare which door deletes them (:mod:`neptun.admin_deletion`
holds the machinery every app's admin deletes with). Only staff with the model's
delete permission see the deleting actions (the conversations action needs
``chats.delete_chat``; "Purge orphans" needs delete permission on chats,
collections, files and chat connections).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from chats import cleanup
from chats.deletion import rules
from chats.services import ConversationFlags
from neptun.admin_deletion import (
    ALWAYS_SHOWN,
    KIND_LABELS,
    AdminDeletion,
    Column,
    DeletionForm,
    ServiceDeletionAdmin,
    count_of,
    counts_text,
    deletion_context,
    error_text,
    holds_every_delete_permission,
    missing_permissions,
    missing_text,
    records_text,
)
from neptun.admin_retention import erase_users
from neptun.keys import api_keys_revoke
from neptun.models import AccessToken, ApiKey, DeletionRecord, Tenant, User

PURGE_PERMISSIONS = (
    "chats.delete_chat",
    "chats.delete_chatconnection",
    "collections_app.delete_collection",
    "collections_app.delete_file",
)


def can_purge_orphans(request: HttpRequest) -> bool:
    """Staff with delete permission on every kind the purge removes."""
    user = request.user
    return bool(user.is_active and user.is_staff and user.has_perms(PURGE_PERMISSIONS))


class ReadOnlyAdmin(admin.ModelAdmin):
    """Browse only: rows that are written by the system and never edited by hand."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# --------------------------------------------------------------------------- filters


class InputFilter(admin.SimpleListFilter):
    """A text box instead of a list of choices (a list of every owner would not scale)."""

    template = "admin/neptun/input_filter.html"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> Any:
        return ((None, None),)  # shown even with no choices

    def choices(self, changelist: Any) -> Iterator[dict[str, Any]]:  # type: ignore[override]
        # Our template's context (a text box), not Django's list of choices.
        # Keep every other parameter (other filters, search, ordering) in the form.
        query = {k: v for k, v in changelist.params.items() if k != self.parameter_name}
        yield {
            "parameter_name": self.parameter_name,
            "value": self.value() or "",
            "hidden": sorted(query.items()),
            "clear_url": changelist.get_query_string(remove=[self.parameter_name]),
        }


class OwnerFilter(InputFilter):
    """``?owner=`` an email (exact, case-insensitive) or a user id."""

    title = "owner (email or id)"
    parameter_name = "owner"
    field = "owner"

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = (self.value() or "").strip()
        if not value:
            return queryset
        if value.isdigit():
            return queryset.filter(**{f"{self.field}_id": int(value)})
        return queryset.filter(**{f"{self.field}__email__iexact": value})


class UserFilter(OwnerFilter):
    title = "user (email or id)"
    parameter_name = "user"
    field = "user"


# --------------------------------------------------------------------------- identity


class NeptunUserCreationForm(AdminUserCreationForm):
    class Meta(AdminUserCreationForm.Meta):
        model = User
        fields = ("email",)


class NeptunUserChangeForm(UserChangeForm):
    class Meta(UserChangeForm.Meta):
        model = User
        fields = "__all__"


class ConversationFlagsForm(DeletionForm):
    """The five options of ``DELETE /api/chat/conversations/all`` (all default to on)."""

    @classmethod
    def keywords(cls, options: dict[str, Any]) -> dict[str, Any]:
        return {"flags": ConversationFlags(**options)}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)

    delete_files_and_collections = forms.BooleanField(
        required=False,
        initial=True,
        help_text="Also the user-owned collections these chats link to, with their files "
        "(not a collection a surviving chat still uses; never a global one). Off: files and "
        "collections stay; files lose their chat link.",
    )
    delete_regular_chats = forms.BooleanField(required=False, initial=True)
    delete_user_file_conversations = forms.BooleanField(required=False, initial=True)
    delete_global_collection_conversations = forms.BooleanField(required=False, initial=True)
    delete_null_conversations = forms.BooleanField(required=False, initial=True)


@admin.register(User)
class UserAdmin(ServiceDeletionAdmin, DjangoUserAdmin):
    form = NeptunUserChangeForm
    add_form = NeptunUserCreationForm
    fieldsets = (
        (None, {"fields": ("email", "password", "tenant")}),
        (
            "Permissions",
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        ("Important dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("email", "tenant", "usable_password", "password1", "password2"),
            },
        ),
    )
    list_display = ("email", "tenant", "is_staff", "is_active", "date_joined", "last_login")
    list_filter = (
        "is_staff",
        "is_superuser",
        "is_active",
        ("tenant", admin.RelatedFieldListFilter),
        ("date_joined", admin.DateFieldListFilter),
    )
    list_select_related = ("tenant",)
    search_fields = ("email", "tenant__name")
    ordering = ("email",)
    raw_id_fields = ("tenant",)
    actions = ["delete_selected", "delete_conversations", erase_users]

    deletion = AdminDeletion(
        door="users_delete",
        argument="users",
        kept=rules.users_kept,
        intro="Each user goes with everything they own: chats and their messages, "
        "projects and links, collections and files with their blobs, tokens.",
    )
    more_deletions = {
        "delete_conversations": AdminDeletion(
            door="users_conversations_delete",
            argument="users",
            kept=rules.users_conversations_kept,
            form=ConversationFlagsForm,
            verb="Delete conversations of",
            intro="Same options as DELETE /api/chat/conversations/all. One deletion for "
            "all selected users, with one deletion record per user (that user's counts).",
        )
    }

    def has_delete_conversations_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("chats.delete_chat")

    @admin.action(
        permissions=["delete_conversations"],
        description="Delete conversations of selected users…",
    )
    def delete_conversations(self, request: HttpRequest, queryset: QuerySet[User]) -> Any:
        """The conversations endpoint's deletion, with its five flags, over the selected
        users at once."""
        return self.run_deletion(request, queryset, action="delete_conversations")


@admin.register(Tenant)
class TenantAdmin(ServiceDeletionAdmin):
    """Deleting a tenant deletes its users (with everything they own), its global
    collections (with their files), its API keys and the tenant, through the deletion
    service."""

    list_display = ("name", "created_at", "user_count")
    search_fields = ("name",)
    list_filter = (("created_at", admin.DateFieldListFilter),)
    date_hierarchy = "created_at"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Tenant]:
        return super().get_queryset(request).annotate(user_count=Count("users"))

    @admin.display(description="users", ordering="user_count")
    def user_count(self, obj: Tenant) -> int:
        return obj.user_count  # type: ignore[attr-defined]

    deletion = AdminDeletion(
        door="tenants_delete",
        argument="tenants",
        kept=rules.tenants_kept,
        intro="Each tenant goes with its users and everything they own (chats, "
        "messages, projects, collections, files with their blobs, tokens), its global "
        "collections with their files, and its API keys.",
    )


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    """Keys are created by ``create_api_key`` (the secret is shown once) and revoked,
    not deleted, here: a revoked key keeps its audit value."""

    list_display = ("prefix", "name", "tenant", "created_at", "last_used_at", "revoked_at")
    list_filter = (
        ("tenant", admin.RelatedFieldListFilter),
        ("created_at", admin.DateFieldListFilter),
        ("revoked_at", admin.EmptyFieldListFilter),
    )
    list_select_related = ("tenant",)
    search_fields = ("prefix", "name", "tenant__name")
    readonly_fields = ("tenant", "prefix", "key_hash", "created_at", "last_used_at", "revoked_at")
    fields = ("tenant", "name", "prefix", "key_hash", "created_at", "last_used_at", "revoked_at")
    actions = ["revoke"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(permissions=["change"], description="Revoke selected API keys")
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        # Open sockets of these keys are closed at once (neptun/keys.py).
        n = api_keys_revoke(keys=queryset)
        self.message_user(request, f"Revoked {n} API key(s).", messages.SUCCESS)


@admin.register(AccessToken)
class AccessTokenAdmin(admin.ModelAdmin):
    """Tokens are created by ``create_access_token``; here they can be expired."""

    list_display = ("user", "name", "created_at", "expires_at")
    list_filter = (
        UserFilter,
        ("created_at", admin.DateFieldListFilter),
        ("expires_at", admin.DateFieldListFilter),
    )
    list_select_related = ("user",)
    search_fields = ("name", "user__email")
    readonly_fields = ("user", "token_hash", "created_at", "expires_at")
    fields = ("user", "name", "token_hash", "created_at", "expires_at")
    actions = ["expire"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(permissions=["change"], description="Expire selected tokens now")
    def expire(self, request: HttpRequest, queryset: QuerySet[AccessToken]) -> None:
        now = timezone.now()
        n = queryset.filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now)).update(
            expires_at=now
        )
        self.message_user(request, f"Expired {n} token(s).", messages.SUCCESS)


# --------------------------------------------------------------------------- audit


class OrphanPurgeForm(forms.Form):
    confirm = forms.BooleanField(required=True, widget=forms.HiddenInput, initial=True)


@admin.register(DeletionRecord)
class DeletionRecordAdmin(ReadOnlyAdmin):
    """The audit trail: read only, never deleted. Also home of "Purge orphans"."""

    list_display = (
        "created_at",
        "interface",
        "actor_email",
        "endpoint",
        "state_shown",
        "summary",
        "has_errors",
    )
    list_filter = (
        "interface",
        "state",
        ("created_at", admin.DateFieldListFilter),
        ("actor", admin.EmptyFieldListFilter),
    )
    search_fields = ("actor_email", "endpoint", "remote_addr")
    date_hierarchy = "created_at"
    readonly_fields = (
        "created_at",
        "interface",
        "actor",
        "actor_email",
        "endpoint",
        "remote_addr",
        "state_shown",
        "heartbeat_at",
        "finished_at",
        "counts_pretty",
        "errors_pretty",
    )
    fields = readonly_fields
    raw_id_fields = ("actor",)
    change_list_template = "admin/neptun/deletionrecord/change_list.html"

    @admin.display(description="counts")
    def summary(self, obj: DeletionRecord) -> str:
        counts = obj.counts or {}
        return ", ".join(
            count_of(kind, counts[kind])
            for kind in KIND_LABELS
            if isinstance(counts.get(kind), int) and counts[kind]
        )

    @admin.display(description="state", ordering="state")
    def state_shown(self, obj: DeletionRecord) -> str:
        """``done``, or a job's state with its progress (``running, batch 3 of 10``)."""
        progress = obj.progress or {}
        if obj.state in (DeletionRecord.State.RUNNING, DeletionRecord.State.QUEUED) and progress:
            done, total = progress.get("done", 0), progress.get("total", "?")
            return f"{obj.get_state_display()}, batch {done} of {total}"
        return str(obj.get_state_display())

    @admin.display(description="errors", boolean=True)
    def has_errors(self, obj: DeletionRecord) -> bool:
        return bool(obj.errors)

    @admin.display(description="counts")
    def counts_pretty(self, obj: DeletionRecord) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.counts, indent=2, sort_keys=True))

    @admin.display(description="errors")
    def errors_pretty(self, obj: DeletionRecord) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.errors, indent=2))

    # ---- purge orphans ---------------------------------------------------------------

    #: Seconds one purge request may run; the rest is left for the next click or the command.
    PURGE_TIME_BUDGET = 20.0

    def get_urls(self) -> list[Any]:
        return [
            path(
                "purge-orphans/",
                # Each batch of the sweep commits on its own, even with ATOMIC_REQUESTS.
                transaction.non_atomic_requests(
                    self.admin_site.admin_view(self.purge_orphans_view)
                ),
                name="neptun_deletionrecord_purge_orphans",
            ),
            *super().get_urls(),
        ]

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        extra_context = {**(extra_context or {}), "can_purge": can_purge_orphans(request)}
        return super().changelist_view(request, extra_context)

    def purge_orphans_view(self, request: HttpRequest) -> HttpResponse:
        """Purge orphans: the sweeper's database kinds, with their default grace periods.

        Storage walks (orphan blobs, missing blobs) are left to ``manage.py
        cleanup_orphans``: they read every blob, which a web request must not do.
        """
        if not can_purge_orphans(request):
            raise PermissionDenied
        options = cleanup.SweepOptions(kinds=cleanup.DATABASE_KINDS)
        report = None
        confirmed = request.method == "POST" and OrphanPurgeForm(request.POST).is_valid()
        if confirmed and not holds_every_delete_permission(request.user):
            # What the orphans take with them (messages, project links …) needs its
            # delete permission too: recount now, and refuse if one is missing.
            report = cleanup.orphans_preview(options=options)
            missing = missing_permissions(request.user, report.result.counts)
            if missing:
                self.message_user(request, missing_text(missing), messages.ERROR)
                confirmed = False
        if confirmed:
            ctx = deletion_context(request, "admin:purge_orphans")
            report = cleanup.orphans_delete(
                options=options, ctx=ctx, time_budget=self.PURGE_TIME_BUDGET
            )
            removed = {kind: r.removed for kind, r in report.kinds.items() if r.removed}
            text = ", ".join(f"{n} {kind}" for kind, n in removed.items()) or "nothing"
            self.message_user(
                request,
                f"Purged orphans: {text}. With them: {counts_text(report.result.counts)}."
                + records_text([report.record_id] if report.record_id else []),
                messages.SUCCESS,
            )
            if not report.complete:
                self.message_user(
                    request,
                    "Stopped after the time limit of one request: purge again to continue, "
                    "or run `manage.py cleanup_orphans --yes`.",
                    messages.WARNING,
                )
            for error in report.errors:
                self.message_user(request, error_text(error), messages.ERROR)
            return HttpResponseRedirect(reverse("admin:neptun_deletionrecord_changelist"))

        if report is None:
            report = cleanup.orphans_preview(options=options)
        missing = missing_permissions(request.user, report.result.counts)
        rows = [
            {
                "kind": kind,
                "description": PURGE_DESCRIPTIONS[kind],
                "grace": cleanup.human_duration(r.grace),
                "found": r.found,
                "removed": r.found - r.kept,
                "kept": r.kept,
            }
            for kind, r in report.kinds.items()
        ]
        goes = [
            {"label": label, "values": [report.result.counts.get(kind, 0)]}
            for kind, label in KIND_LABELS.items()
            if kind in ALWAYS_SHOWN or report.result.counts.get(kind, 0)
        ]
        context = {
            **self.admin_site.each_context(request),
            "title": "Purge orphans?",
            "subtitle": None,
            "opts": self.opts,
            "rows": rows,
            "goes": goes,
            "columns": [Column("Count", {}, report.result.counts, [], missing)],
            "form": OrphanPurgeForm(),
            "missing": [("Count", missing)] if missing else [],
            "can_confirm": not missing,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/neptun/purge_orphans.html", context)


PURGE_DESCRIPTIONS = {
    cleanup.NULL_CHATS: "Conversations with no type (NULL), with their messages and own files",
    cleanup.STALE_CONNECTIONS: "Live-connection records whose heartbeat stopped",
    cleanup.EMPTY_COLLECTIONS: "User collections with no file and no conversation",
    cleanup.LOOSE_FILES: "Files with neither chat nor collection: kept (their owner may have "
    "asked to keep them); only the command deletes them, with --delete-loose-files",
}
