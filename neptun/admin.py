"""Admin for identity and audit, and the machinery every app's admin deletes with.

No admin path deletes data by itself. Each deleting action — the bulk actions,
the "Delete selected …" that replaces Django's, and the single-object delete
page — calls the deletion service (:mod:`chats.services`, :mod:`chats.cleanup`).

Django's stock confirmation page collects every related object into Python to
list it; at a million messages it falls over. Ours shows **counts by kind** (what
goes, and what stays) from aggregate queries, never a list of objects, and posts
back the ids the browser sent (or ``select_across`` for "select all N", which the
service resolves by id), so a selection's size never decides what Python holds.

After an action: a message with the counts, an error message for each thing that
could not be done (e.g. a blob storage refused to remove), and a
``DeletionRecord`` with interface ``admin`` and the staff user (the audit trail; bulk
actions write no per-object ``LogEntry``, which would load every selected row). Only staff with
the model's delete permission see the actions (the conversations action needs
``chats.delete_chat``; "Purge orphans" needs delete permission on chats,
collections, files and chat connections).

**A deletion needs the delete permission of every kind it removes**, as Django's
stock delete does for every related object it collects. The kinds are those with a
nonzero count in the deletion's preview (:data:`KIND_MODELS` maps each to its model,
:data:`DELETE_PERMISSIONS` to ``app_label.delete_model``; blobs are not rows and go
with their files). Like Django, only what this deletion actually takes counts: a chat
with no messages needs no ``chats.delete_message``. The model admins of messages,
links, connections, keys and tokens are read-only, so the permission is asked of
the user (``has_perm``), not of those admins (a superuser holds them all). On the
confirmation pages each previewed option lists what it lacks, an option that lacks
something cannot be confirmed, and the confirming POST recounts and refuses before
anything is deleted: the bulk actions and "Purge orphans" show their page again with
an error, the single-object delete page (``get_deleted_objects``'s ``perms_needed``)
answers 403 as Django's does. Staff holding every delete permission skip the
recount. Rows Django itself removes with a user (admin log entries, group and
permission memberships) belong to models not registered here, for which Django's
delete asks no permission either.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.actions import delete_selected as django_delete_selected
from django.contrib.admin.options import ActionLocation
from django.contrib.auth import get_permission_codename
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.core import signing
from django.core.exceptions import BadRequest, PermissionDenied
from django.db import models, transaction
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import ngettext

from chats import cleanup, services
from chats.deletion import rules
from chats.models import Chat, ChatConnection, Message
from chats.services import ConversationFlags, DeletionContext, DeletionResult
from collections_app.models import Collection, File
from neptun import admin_jobs
from neptun.admin_retention import erase_users
from neptun.client_address import client_address
from neptun.keys import api_keys_revoke
from neptun.models import AccessToken, ApiKey, DeletionRecord, Tenant, User
from projects.models import Project, ProjectChat

# --------------------------------------------------------------------------- counts

#: Kinds in the order a confirmation page lists them, with their labels.
KIND_LABELS: dict[str, str] = {
    "tenants": "Tenants",
    "users": "Users",
    "projects": "Projects",
    "chats": "Chats",
    "messages": "Messages",
    "files": "Files",
    "collections": "Collections",
    "links": "Project links",
    "connections": "Live-connection records",
    "api_keys": "API keys",
    "access_tokens": "Access tokens",
    "blobs": "Blobs in storage",
}
#: Kinds every confirmation page shows, even at zero.
ALWAYS_SHOWN = ("chats", "messages", "files", "collections", "links", "blobs")


#: The model of each kind a deletion counts (blobs are not rows: they go with files).
KIND_MODELS: dict[str, type[models.Model]] = {
    "tenants": Tenant,
    "users": User,
    "projects": Project,
    "chats": Chat,
    "messages": Message,
    "files": File,
    "collections": Collection,
    "links": ProjectChat,
    "connections": ChatConnection,
    "api_keys": ApiKey,
    "access_tokens": AccessToken,
}


def _delete_permission(model: type[models.Model]) -> str:
    opts = model._meta
    return f"{opts.app_label}.{get_permission_codename('delete', opts)}"


#: The permission a deletion needs for each kind it removes, e.g. ``chats.delete_message``.
DELETE_PERMISSIONS: dict[str, str] = {
    kind: _delete_permission(model) for kind, model in KIND_MODELS.items()
}


def missing_permissions(user: Any, counts: Counter[str] | dict[str, int]) -> list[str]:
    """The delete permissions ``user`` lacks for the kinds with a nonzero count.

    Each as "Label (app_label.delete_model)", in the order of :data:`KIND_LABELS`;
    empty when the deletion may go ahead (always for an active superuser).
    """
    return [
        f"{KIND_LABELS[kind]} ({perm})"
        for kind, perm in DELETE_PERMISSIONS.items()
        if counts.get(kind, 0) and not user.has_perm(perm)
    ]


def holds_every_delete_permission(user: Any) -> bool:
    """True when no count can stop this user (then no recount is needed to check)."""
    return bool(user.has_perms(DELETE_PERMISSIONS.values()))


def missing_text(missing: Sequence[str]) -> str:
    return (
        "Nothing was deleted: this deletion would remove objects your account doesn't "
        "have permission to delete: " + ", ".join(missing) + "."
    )


def deletion_context(request: HttpRequest, endpoint: str) -> DeletionContext:
    return DeletionContext(
        actor=request.user if request.user.is_authenticated else None,
        interface=DeletionRecord.Interface.ADMIN,
        endpoint=endpoint,
        remote_addr=client_address(request),
    )


#: Each kind's noun in a sentence: singular, plural.
KIND_NOUNS: dict[str, tuple[str, str]] = {
    "tenants": ("tenant", "tenants"),
    "users": ("user", "users"),
    "projects": ("project", "projects"),
    "chats": ("chat", "chats"),
    "messages": ("message", "messages"),
    "files": ("file", "files"),
    "collections": ("collection", "collections"),
    "links": ("project link", "project links"),
    "connections": ("live-connection record", "live-connection records"),
    "api_keys": ("API key", "API keys"),
    "access_tokens": ("access token", "access tokens"),
    "blobs": ("blob", "blobs"),
}


def count_of(kind: str, n: int) -> str:
    """``1 chat``, ``2 chats``, ``1 project link``."""
    singular, plural = KIND_NOUNS[kind]
    return f"{n} {ngettext(singular, plural, n)}"


def counts_text(counts: Counter[str] | dict[str, int]) -> str:
    """What a deletion took, for a message: the rows by kind, then the blobs removed
    from storage (always said, also when none were)."""
    parts = [
        count_of(kind, counts.get(kind, 0))
        for kind in KIND_LABELS
        if kind != "blobs"
        and (counts.get(kind, 0) or kind in ("chats", "messages", "files", "collections"))
    ]
    return ", ".join(parts) + f"; {count_of('blobs', counts.get('blobs', 0))} removed from storage"


def merge_results(results: Iterable[DeletionResult]) -> DeletionResult:
    merged = DeletionResult()
    for result in results:
        merged.counts.update(result.counts)
        merged.by_type.update(result.by_type)
        merged.errors.extend(result.errors)
    return merged


@dataclass
class Column:
    """One option previewed on a confirmation page (one column of its tables)."""

    label: str
    options: dict[str, Any]
    counts: Counter[str]
    kept: list[tuple[str, int]]
    #: Delete permissions the staff member lacks for what this option removes.
    missing: list[str] = field(default_factory=list)


def summary_tables(columns: Sequence[Column]) -> dict[str, Any]:
    """Rows of the "goes" and "stays" tables a confirmation template renders."""
    goes = [
        {"label": label, "values": [column.counts.get(kind, 0) for column in columns]}
        for kind, label in KIND_LABELS.items()
        if kind in ALWAYS_SHOWN or any(column.counts.get(kind, 0) for column in columns)
    ]
    labels: list[str] = []
    for column in columns:
        labels.extend(label for label, _ in column.kept if label not in labels)
    stays = [
        {"label": label, "values": [dict(column.kept).get(label, 0) for column in columns]}
        for label in labels
    ]
    missing = [(column.label, column.missing) for column in columns if column.missing]
    return {
        "columns": columns,
        "goes": goes,
        "stays": stays,
        "missing": missing,
        "can_confirm": any(not column.missing for column in columns),
    }


def report_results(
    modeladmin: admin.ModelAdmin, request: HttpRequest, results: Sequence[DeletionResult]
) -> None:
    """Tell the staff member what happened, once blob removal has run (after commit)."""

    def tell() -> None:
        merged = merge_results(results)
        record_ids = [r.record_id for r in results if r.record_id is not None]
        modeladmin.message_user(
            request,
            f"Deleted {counts_text(merged.counts)}." + _records_text(record_ids),
            messages.SUCCESS,
        )
        for error in merged.errors:
            modeladmin.message_user(request, _error_text(error), messages.ERROR)

    transaction.on_commit(tell)


def _records_text(record_ids: Sequence[int]) -> str:
    if not record_ids:
        return ""
    if len(record_ids) == 1:
        return f" Deletion record #{record_ids[0]}."
    return f" {len(record_ids)} deletion records (#{record_ids[0]} to #{record_ids[-1]})."


def _error_text(error: dict[str, Any]) -> str:
    if error.get("kind") == "blob":
        return (
            f"Blob {error.get('blob')} could not be removed ({error.get('error')}); "
            "it stays in storage for `manage.py cleanup_orphans`."
        )
    return "Error: " + json.dumps(error)


# --------------------------------------------------------------------------- actions


@dataclass
class DeletionSpec:
    """One deleting admin operation: how to preview it, what stays, how to run it.

    ``preview(queryset, options)`` and ``kept(queryset, options, preview)`` only read
    (aggregate queries); ``execute(queryset, options, ctx)`` calls the service.
    ``choices`` lists option sets previewed side by side (e.g. a project's links
    only vs. with its chats); without it, the page previews the form's options.
    """

    verb: str
    preview: Callable[[QuerySet[Any], dict[str, Any]], DeletionResult]
    kept: Callable[[QuerySet[Any], dict[str, Any], DeletionResult], list[tuple[str, int]]]
    execute: Callable[[QuerySet[Any], dict[str, Any], DeletionContext], list[DeletionResult]]
    form_class: type[forms.Form] | None = None
    choices: Sequence[tuple[str, dict[str, Any]]] = ()
    intro: str = ""

    def options_of(self, form: forms.Form | None) -> dict[str, Any]:
        if form is None:
            return {}
        if form.is_bound and form.is_valid():
            return dict(form.cleaned_data)
        return {name: field.initial for name, field in form.fields.items()}

    def columns(
        self, queryset: QuerySet[Any], options: dict[str, Any], user: Any = None
    ) -> list[Column]:
        """One column per option set; with ``user``, each names what it lacks."""
        choices = self.choices or [("Count", options)]
        columns = []
        for label, choice in choices:
            merged = {**options, **choice}
            preview = self.preview(queryset, merged)
            columns.append(
                Column(
                    label,
                    merged,
                    preview.counts,
                    self.kept(queryset, merged, preview),
                    missing_permissions(user, preview.counts) if user is not None else [],
                )
            )
        return columns

    def missing(self, queryset: QuerySet[Any], options: dict[str, Any], user: Any) -> list[str]:
        """What ``user`` lacks to run this deletion with ``options`` now (recounted)."""
        if holds_every_delete_permission(user):
            return []
        return missing_permissions(user, self.preview(queryset, options).counts)


def plain(queryset: QuerySet[Any]) -> QuerySet[Any]:
    """The same rows without the change list's annotations, joins or ordering.

    A subquery, not a list of ids: "select all N matching" stays lazy, and the
    service may lock the rows (``FOR UPDATE`` is not allowed with ``GROUP BY``).
    """
    return queryset.model._default_manager.filter(pk__in=queryset.values("pk"))


def _signature(options: dict[str, Any]) -> str:
    return json.dumps(options, sort_keys=True, default=str)


ROWS_SALT = "neptun.admin.previewed-rows"


def _previewed_rows(request: HttpRequest, options: dict[str, Any]) -> int | None:
    """The rows the confirmation page counted for these options (signed by us, so a
    confirm needs no second preview to decide whether it runs as a job); ``None``
    when the POST did not come from that page or the options differ."""
    try:
        rows = signing.loads(request.POST.get("_neptun_rows", ""), salt=ROWS_SALT)
    except signing.BadSignature:
        return None
    value = rows.get(_signature(options)) if isinstance(rows, dict) else None
    return value if isinstance(value, int) else None


def run_deletion_action(
    modeladmin: ServiceDeletionAdmin,
    request: HttpRequest,
    queryset: QuerySet[Any],
    *,
    action: str,
    spec: DeletionSpec,
) -> HttpResponse | None:
    """Django's intermediate-page action: confirmation with counts, then the service.

    The confirmation page posts back to the changelist with the same ``action``,
    the ``_selected_action`` ids the browser sent and ``select_across``, so Django
    rebuilds exactly the same queryset (filters travel in the URL).
    """
    queryset = plain(queryset)
    confirmed = "_neptun_confirm" in request.POST
    ours = confirmed or "_neptun_preview" in request.POST
    form = None
    if spec.form_class is not None:
        form = spec.form_class(request.POST if ours else None)
    options = spec.options_of(form)
    form_ok = form is None or (form.is_bound and form.is_valid()) or not ours
    options_changed = bool(
        spec.form_class
        and not spec.choices
        and request.POST.get("_neptun_previewed") != _signature(options)
    )
    if confirmed and form_ok:
        if options_changed:
            modeladmin.message_user(
                request,
                "The options changed since the counts were shown: check them and confirm again.",
                messages.WARNING,
            )
        elif missing := spec.missing(queryset, options, request.user):
            # The page offered no button for this; refuse, delete nothing, show it again.
            modeladmin.message_user(request, missing_text(missing), messages.ERROR)
        else:
            endpoint = f"admin:{modeladmin.opts.label_lower}:{action}"
            ctx = deletion_context(request, endpoint)
            rows = _previewed_rows(request, options) if admin_jobs.enabled() else 0
            if rows is None:  # not from our page: count now
                rows = admin_jobs.size_of(spec.preview(queryset, options))
            if admin_jobs.is_big(rows):
                record = admin_jobs.enqueue(
                    ctx, model=modeladmin.opts.label_lower, action=action,
                    queryset=queryset, options=options,
                )  # fmt: skip
                url = reverse("admin:neptun_deletionrecord_change", args=[record.pk])
                modeladmin.message_user(
                    request,
                    format_html(
                        "This deletion is large: it runs as a background job. "
                        '<a href="{}">Deletion record #{}</a> shows its progress.',
                        url,
                        record.pk,
                    ),
                    messages.SUCCESS,
                )
                return None
            results = spec.execute(queryset, options, ctx)
            report_results(modeladmin, request, results)
            return None  # back to the change list

    opts = modeladmin.opts
    selected = request.POST.getlist(helpers.ACTION_CHECKBOX_NAME)
    select_across = request.POST.get("select_across") in ("1", "True", "true", "on")
    n = queryset.count()
    columns = spec.columns(queryset, options, request.user)
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": f"{spec.verb} {n} {opts.verbose_name if n == 1 else opts.verbose_name_plural}?",
        "subtitle": None,
        "opts": opts,
        "intro": spec.intro,
        "count": n,
        "select_across": select_across,
        "selected": selected,
        "action": action,
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        "form": form,
        "previewed": _signature(options),
        "previewed_rows": signing.dumps(
            {_signature(column.options): admin_jobs.size_of(column) for column in columns},
            salt=ROWS_SALT,
        ),
        "media": modeladmin.media,
        **summary_tables(columns),
    }
    request.current_app = modeladmin.admin_site.name
    return TemplateResponse(request, "admin/neptun/deletion_confirmation.html", context)


class ServiceDeletionAdmin(admin.ModelAdmin):
    """A model admin whose every deletion goes through the deletion service.

    Subclasses give :meth:`deletion_spec`. Django's "Delete selected …" action is
    replaced by ours (same name, our confirmation page), and ``delete_model`` /
    ``delete_queryset`` / ``get_deleted_objects`` are overridden so the
    single-object delete page neither collects related objects nor deletes them.
    """

    delete_confirmation_template = "admin/neptun/delete_confirmation.html"
    actions = ["delete_selected"]

    def deletion_spec(self) -> DeletionSpec:
        raise NotImplementedError

    def action_specs(self) -> dict[str, DeletionSpec]:
        """Every deleting action of this admin by name (a background job names one)."""
        return {"delete_selected": self.deletion_spec()}

    # ---- the bulk action -----------------------------------------------------------

    @admin.action(permissions=["delete"], description="Delete selected %(verbose_name_plural)s")
    def delete_selected(self, request: HttpRequest, queryset: QuerySet[Any]) -> Any:
        return run_deletion_action(
            self, request, queryset, action="delete_selected", spec=self.deletion_spec()
        )

    def get_actions(
        self, request: HttpRequest, action_location: ActionLocation = ActionLocation.CHANGE_LIST
    ) -> dict[str, Any]:
        actions = super().get_actions(request, action_location=action_location)
        stock = actions.get("delete_selected")
        if stock is not None and stock.func is django_delete_selected:
            del actions["delete_selected"]  # never Django's: it bypasses the service
        return actions

    # ---- the single-object delete page and any other path ---------------------------

    def _options_from_post(self, request: HttpRequest) -> dict[str, Any]:
        spec = self.deletion_spec()
        form = spec.form_class(request.POST) if spec.form_class and request.POST else None
        if form is not None and not form.is_valid():
            raise BadRequest("invalid deletion options")
        return (
            spec.options_of(form)
            if form is not None
            else spec.options_of(spec.form_class() if spec.form_class else None)
        )

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        spec = self.deletion_spec()
        endpoint = f"admin:{self.opts.label_lower}:delete"
        options = self._options_from_post(request)
        if spec.missing(plain(queryset), options, request.user):
            raise PermissionDenied  # the delete view checked already; never delete past it
        results = spec.execute(plain(queryset), options, deletion_context(request, endpoint))
        report_results(self, request, results)

    def delete_model(self, request: HttpRequest, obj: models.Model) -> None:
        self.delete_queryset(request, self.model._default_manager.filter(pk=obj.pk))

    def get_deleted_objects(  # type: ignore[override]  # perms_needed is an ordered list
        self, objs: Any, request: HttpRequest
    ) -> tuple[list[Any], dict[str, int], list[str], list[Any]]:
        """Counts only (rendered by our template); never a list of related objects.

        The third item is Django's ``perms_needed``: the delete permissions the staff
        member lacks for the kinds this deletion (with the posted options, or the
        defaults) would remove. Django's delete view then shows them instead of the
        form and refuses a POST with 403. A list, not Django's set: the page lists
        them in the order of the counts.
        """
        spec = self.deletion_spec()
        queryset = self.model._default_manager.filter(pk__in=[obj.pk for obj in objs])
        missing = spec.missing(queryset, self._options_from_post(request), request.user)
        return [], {}, missing, []

    def render_delete_form(self, request: HttpRequest, context: dict[str, Any]) -> HttpResponse:
        spec = self.deletion_spec()
        obj = context["object"]
        queryset = self.model._default_manager.filter(pk=obj.pk)
        form = spec.form_class() if spec.form_class else None
        columns = spec.columns(queryset, spec.options_of(form), request.user)
        context.update(summary_tables(columns), form=form, intro=spec.intro)
        return super().render_delete_form(request, context)


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


class ConversationFlagsForm(forms.Form):
    """The five options of ``DELETE /api/chat/conversations/all`` (all default to on)."""

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


def _user_batches(users: QuerySet[User], size: int = 500) -> Iterator[list[User]]:
    """Users in id order, one batch in memory at a time (keyset; rows may go meanwhile)."""
    last = 0
    while True:
        batch = list(users.filter(pk__gt=last).order_by("pk")[:size])
        if not batch:
            return
        last = batch[-1].pk
        yield batch


def _conversations_preview(users: QuerySet[User], options: dict[str, Any]) -> DeletionResult:
    flags = ConversationFlags(**options)
    return merge_results(
        services.conversations_delete_preview(user=user, flags=flags)
        for batch in _user_batches(users)
        for user in batch
    )


def _conversations_kept(
    users: QuerySet[User], options: dict[str, Any], preview: DeletionResult
) -> rules.Kept:
    return rules.conversations_kept(
        users=(user for batch in _user_batches(users) for user in batch),
        flags=ConversationFlags(**options),
        preview=preview,
    )


def _conversations_execute(
    users: QuerySet[User], options: dict[str, Any], ctx: DeletionContext
) -> list[DeletionResult]:
    flags = ConversationFlags(**options)
    return [
        services.conversations_delete(user=user, flags=flags, ctx=ctx)
        for batch in _user_batches(users)
        for user in batch
    ]


def _users_kept(
    users: QuerySet[User], options: dict[str, Any], preview: DeletionResult
) -> rules.Kept:
    return rules.users_kept(users)


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

    def deletion_spec(self) -> DeletionSpec:
        return DeletionSpec(
            verb="Delete",
            intro="Each user goes with everything they own: chats and their messages, "
            "projects and links, collections and files with their blobs, tokens.",
            preview=lambda qs, o: services.users_delete_preview(users=qs),
            kept=_users_kept,
            execute=lambda qs, o, ctx: [services.users_delete(users=qs, ctx=ctx)],
        )

    def has_delete_conversations_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("chats.delete_chat")

    def conversations_spec(self) -> DeletionSpec:
        return DeletionSpec(
            verb="Delete conversations of",
            intro="Same options as DELETE /api/chat/conversations/all. Each user's "
            "conversations are deleted in that user's own transaction and record.",
            form_class=ConversationFlagsForm,
            preview=_conversations_preview,
            kept=_conversations_kept,
            execute=_conversations_execute,
        )

    def action_specs(self) -> dict[str, DeletionSpec]:
        return {**super().action_specs(), "delete_conversations": self.conversations_spec()}

    @admin.action(
        permissions=["delete_conversations"],
        description="Delete conversations of selected users…",
    )
    def delete_conversations(self, request: HttpRequest, queryset: QuerySet[User]) -> Any:
        """The conversations endpoint's deletion, with its five flags, per selected user."""
        return run_deletion_action(
            self, request, queryset, action="delete_conversations", spec=self.conversations_spec()
        )


def _tenants_kept(
    tenants: QuerySet[Tenant], options: dict[str, Any], preview: DeletionResult
) -> rules.Kept:
    return rules.tenants_kept(tenants)


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

    def deletion_spec(self) -> DeletionSpec:
        return DeletionSpec(
            verb="Delete",
            intro="Each tenant goes with its users and everything they own (chats, "
            "messages, projects, collections, files with their blobs, tokens), its global "
            "collections with their files, and its API keys.",
            preview=lambda qs, o: services.tenants_delete_preview(tenants=plain(qs)),
            kept=_tenants_kept,
            execute=lambda qs, o, ctx: [services.tenants_delete(tenants=plain(qs), ctx=ctx)],
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
                + _records_text([report.record_id] if report.record_id else []),
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
                self.message_user(request, _error_text(error), messages.ERROR)
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
