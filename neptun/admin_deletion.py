"""The admin's deletion machinery, in one place: model admins only declare.

No admin path deletes data by itself. A model admin whose rows are deleted says
*which* door of the deletion service (:mod:`chats.services`) deletes them, in one
class attribute::

    class ChatAdmin(ServiceDeletionAdmin):
        deletion = AdminDeletion(
            door="chats_delete",  # and its dry run, chats_delete_preview
            argument="chats",
            kept=rules.chats_kept,
            intro="Each chat goes with …",
        )

and :class:`ServiceDeletionAdmin` does the rest for every admin alike: the
"Delete selected …" action that replaces Django's, the confirmation page, the
permission checks, the options form, the background job of a big deletion and the
single-object delete page. An admin with more than one deleting action names the
others in ``more_deletions`` (the User admin's "Delete conversations of selected
users…") and gives each an action method that calls :meth:`~ServiceDeletionAdmin.
run_deletion`. A deletion with options has a :class:`DeletionForm`, which also says
how its options become the door's keywords (:meth:`DeletionForm.keywords`).

Django's stock confirmation page collects every related object into Python to
list it; at a million messages it falls over. Ours shows **counts by kind** (what
goes, and what stays) from aggregate queries, never a list of objects, and posts
back the ids the browser sent (or ``select_across`` for "select all N", which the
service resolves by id), so a selection's size never decides what Python holds.

After an action: a message with the counts, an error message for each thing that
could not be done (e.g. a blob storage refused to remove), and a
``DeletionRecord`` with interface ``admin`` and the staff user (the audit trail; bulk
actions write no per-object ``LogEntry``, which would load every selected row).

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
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.actions import delete_selected as django_delete_selected
from django.contrib.admin.options import ActionLocation
from django.contrib.auth import get_permission_codename
from django.core import signing
from django.core.exceptions import BadRequest, ImproperlyConfigured, PermissionDenied
from django.db import models, transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import ngettext

from chats import services
from chats.deletion.rules import Kept
from chats.models import Chat, ChatConnection, Message
from chats.services import DeletionContext, DeletionResult
from collections_app.models import Collection, File
from neptun import admin_jobs
from neptun.client_address import client_address
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
            f"Deleted {counts_text(merged.counts)}." + records_text(record_ids),
            messages.SUCCESS,
        )
        for error in merged.errors:
            modeladmin.message_user(request, error_text(error), messages.ERROR)

    transaction.on_commit(tell)


def records_text(record_ids: Sequence[int]) -> str:
    if not record_ids:
        return ""
    if len(record_ids) == 1:
        return f" Deletion record #{record_ids[0]}."
    return f" {len(record_ids)} deletion records (#{record_ids[0]} to #{record_ids[-1]})."


def error_text(error: dict[str, Any]) -> str:
    if error.get("kind") == "blob":
        return (
            f"Blob {error.get('blob')} could not be removed ({error.get('error')}); "
            "it stays in storage for `manage.py cleanup_orphans`."
        )
    return "Error: " + json.dumps(error)


# --------------------------------------------------------------------------- declarations


class DeletionForm(forms.Form):
    """The options of a deletion, and how they become the keywords of its door.

    The cleaned options (plain values) are what a confirmation page signs, what a
    background job stores and what :meth:`keywords` turns into the door's
    arguments (e.g. a project form's ``mode`` into ``with_chats``).
    """

    @classmethod
    def keywords(cls, options: dict[str, Any]) -> dict[str, Any]:
        return dict(options)


@dataclass(frozen=True)
class AdminDeletion:
    """One deleting admin operation, declared: the door that deletes, the keyword
    it takes the selection by, and what the page shows as kept.

    ``door`` names a function of :mod:`chats.services` (the deletion service's
    stable path), e.g. ``"chats_delete"``; its dry run is the door's ``*_preview``
    (``chats_delete_preview``), as every door has one. Both are looked up when
    called, so the admin always runs what the service exports. They are called as
    ``door(**{argument: selection}, **keywords, ctx=…)`` and
    ``door_preview(**{argument: selection}, **keywords)``; ``kept(selection,
    **keywords)`` is one of the ``*_kept`` counts of :mod:`chats.deletion.rules`,
    where ``keywords`` are the form's (:meth:`DeletionForm.keywords`). ``choices``:
    option sets previewed side by side (a project's links only vs. with its chats);
    without them, the page previews the form's options.
    """

    door: str
    argument: str
    kept: Callable[..., Kept]
    intro: str
    verb: str = "Delete"
    form: type[DeletionForm] | None = None
    choices: Sequence[tuple[str, dict[str, Any]]] = ()

    def __post_init__(self) -> None:
        for name in (self.door, f"{self.door}_preview"):
            if not callable(getattr(services, name, None)):
                raise ImproperlyConfigured(f"chats.services has no door {name!r}")

    def _keywords(self, options: dict[str, Any]) -> dict[str, Any]:
        return self.form.keywords(options) if self.form is not None else {}

    def preview_of(self, queryset: QuerySet[Any], options: dict[str, Any]) -> DeletionResult:
        """The door's dry run for this selection and these options."""
        preview = getattr(services, f"{self.door}_preview")
        result: DeletionResult = preview(**{self.argument: queryset}, **self._keywords(options))
        return result

    def kept_of(self, queryset: QuerySet[Any], options: dict[str, Any]) -> Kept:
        return self.kept(queryset, **self._keywords(options))

    def execute(
        self, queryset: QuerySet[Any], options: dict[str, Any], ctx: DeletionContext
    ) -> list[DeletionResult]:
        """Run the door; one result per record it wrote."""
        door = getattr(services, self.door)
        outcome = door(**{self.argument: queryset}, **self._keywords(options), ctx=ctx)
        return outcome if isinstance(outcome, list) else [outcome]

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
            preview = self.preview_of(queryset, merged)
            columns.append(
                Column(
                    label,
                    merged,
                    preview.counts,
                    self.kept_of(queryset, merged),
                    missing_permissions(user, preview.counts) if user is not None else [],
                )
            )
        return columns

    def missing(self, queryset: QuerySet[Any], options: dict[str, Any], user: Any) -> list[str]:
        """What ``user`` lacks to run this deletion with ``options`` now (recounted)."""
        if holds_every_delete_permission(user):
            return []
        return missing_permissions(user, self.preview_of(queryset, options).counts)


# --------------------------------------------------------------------------- the machinery


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
    modeladmin: admin.ModelAdmin,
    request: HttpRequest,
    queryset: QuerySet[Any],
    *,
    action: str,
    deletion: AdminDeletion,
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
    if deletion.form is not None:
        form = deletion.form(request.POST if ours else None)
    options = deletion.options_of(form)
    form_ok = form is None or (form.is_bound and form.is_valid()) or not ours
    options_changed = bool(
        deletion.form
        and not deletion.choices
        and request.POST.get("_neptun_previewed") != _signature(options)
    )
    if confirmed and form_ok:
        if options_changed:
            modeladmin.message_user(
                request,
                "The options changed since the counts were shown: check them and confirm again.",
                messages.WARNING,
            )
        elif missing := deletion.missing(queryset, options, request.user):
            # The page offered no button for this; refuse, delete nothing, show it again.
            modeladmin.message_user(request, missing_text(missing), messages.ERROR)
        else:
            endpoint = f"admin:{modeladmin.opts.label_lower}:{action}"
            ctx = deletion_context(request, endpoint)
            rows = _previewed_rows(request, options) if admin_jobs.enabled() else 0
            if rows is None:  # not from our page: count now
                rows = admin_jobs.size_of(deletion.preview_of(queryset, options))
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
            results = deletion.execute(queryset, options, ctx)
            report_results(modeladmin, request, results)
            return None  # back to the change list

    opts = modeladmin.opts
    selected = request.POST.getlist(helpers.ACTION_CHECKBOX_NAME)
    select_across = request.POST.get("select_across") in ("1", "True", "true", "on")
    n = queryset.count()
    columns = deletion.columns(queryset, options, request.user)
    noun = opts.verbose_name if n == 1 else opts.verbose_name_plural
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": f"{deletion.verb} {n} {noun}?",
        "subtitle": None,
        "opts": opts,
        "intro": deletion.intro,
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

    Subclasses declare :attr:`deletion` (and, for more deleting actions,
    :attr:`more_deletions`). Django's "Delete selected …" action is replaced by ours
    (same name, our confirmation page), and ``delete_model`` / ``delete_queryset`` /
    ``get_deleted_objects`` are overridden so the single-object delete page neither
    collects related objects nor deletes them.
    """

    delete_confirmation_template = "admin/neptun/delete_confirmation.html"
    actions = ["delete_selected"]

    #: The deletion of "Delete selected …" and of the single-object delete page.
    deletion: ClassVar[AdminDeletion]
    #: Other deleting actions of this admin, by action name.
    more_deletions: ClassVar[dict[str, AdminDeletion]] = {}

    def deletions(self) -> dict[str, AdminDeletion]:
        """Every deleting action of this admin by name (a background job names one)."""
        return {"delete_selected": self.deletion, **self.more_deletions}

    def run_deletion(
        self, request: HttpRequest, queryset: QuerySet[Any], *, action: str
    ) -> HttpResponse | None:
        """The confirmation page of the named deleting action, then its door."""
        return run_deletion_action(
            self, request, queryset, action=action, deletion=self.deletions()[action]
        )

    # ---- the bulk action -----------------------------------------------------------

    @admin.action(permissions=["delete"], description="Delete selected %(verbose_name_plural)s")
    def delete_selected(self, request: HttpRequest, queryset: QuerySet[Any]) -> Any:
        return self.run_deletion(request, queryset, action="delete_selected")

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
        deletion = self.deletion
        form = deletion.form(request.POST) if deletion.form and request.POST else None
        if form is not None and not form.is_valid():
            raise BadRequest("invalid deletion options")
        return (
            deletion.options_of(form)
            if form is not None
            else deletion.options_of(deletion.form() if deletion.form else None)
        )

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        endpoint = f"admin:{self.opts.label_lower}:delete"
        options = self._options_from_post(request)
        if self.deletion.missing(plain(queryset), options, request.user):
            raise PermissionDenied  # the delete view checked already; never delete past it
        ctx = deletion_context(request, endpoint)
        report_results(self, request, self.deletion.execute(plain(queryset), options, ctx))

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
        queryset = self.model._default_manager.filter(pk__in=[obj.pk for obj in objs])
        missing = self.deletion.missing(queryset, self._options_from_post(request), request.user)
        return [], {}, missing, []

    def render_delete_form(self, request: HttpRequest, context: dict[str, Any]) -> HttpResponse:
        deletion = self.deletion
        obj = context["object"]
        queryset = self.model._default_manager.filter(pk=obj.pk)
        form = deletion.form() if deletion.form else None
        columns = deletion.columns(queryset, deletion.options_of(form), request.user)
        context.update(summary_tables(columns), form=form, intro=deletion.intro)
        return super().render_delete_form(request, context)
