"""The admin of retention and erasure.

- **Retention policies**: staff edit a tenant's policy with the rules of the v1 API
  (:func:`chats.retention.policy_validate`); saving deletes nothing. The change page
  shows what the next run would remove under the saved policy, by kind — the
  engine's dry run (:func:`chats.retention.retention_apply` with ``dry_run``).
- **Erasure receipts** are read-only; opening one brings it up to date.
- **"Erase user…"** (an action of the users' list): a confirmation page with what
  goes, by kind, for each selected user; confirming erases each through
  :func:`neptun.erasure.user_erase` — the receipt the v1 API and ``erase_user``
  give — and lists the receipts. It needs the delete permission of every kind an
  erasure removes, and a staff member cannot erase themself (their session would
  go in the middle of the request).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse

from chats import retention
from chats.services import DeletionContext
from neptun.client_address import client_address
from neptun.erasure import erasure_preview, erasure_refresh, receipt, user_erase
from neptun.exceptions import InvalidInput, NotFound
from neptun.models import DeletionRecord, Erasure, RetentionPolicy, User

#: What an erasure removes, as the permissions a staff member needs to do it.
ERASE_PERMISSIONS = (
    "neptun.delete_user",
    "chats.delete_chat",
    "chats.delete_message",
    "projects.delete_project",
    "collections_app.delete_collection",
    "collections_app.delete_file",
)


class RetentionPolicyForm(forms.ModelForm):
    conversation_types = forms.MultipleChoiceField(
        choices=[(key, key) for key in retention.CONVERSATION_TYPES],
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="The types the inactivity limit applies to; none checked: every type.",
    )

    class Meta:
        model = RetentionPolicy
        fields = ["tenant", "inactive_days", "conversation_types", "temporary_hours", "record_days"]
        help_texts = {
            "inactive_days": "Empty: keep forever.",
            "temporary_hours": "Hours a temporary chat lives. Empty: keep forever.",
            "record_days": "Empty: keep forever.",
        }

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        values = {name: data.get(name) for name in retention.LIMITS}
        values["conversation_types"] = list(data.get("conversation_types") or []) or None
        try:
            retention.policy_validate(data=values, current=retention.instance_policy())
        except InvalidInput as exc:
            field = exc.extra.get("field")
            self.add_error(field if isinstance(field, str) else None, exc.message)
        data["conversation_types"] = values["conversation_types"]
        return data


@admin.register(RetentionPolicy)
class RetentionPolicyAdmin(admin.ModelAdmin):
    form = RetentionPolicyForm
    list_display = ("tenant", "inactive_days", "temporary_hours", "record_days", "updated_at")
    raw_id_fields = ("tenant",)
    # No bulk actions: Django's stock "delete selected" is never offered (a policy is
    # removed, back to the instance default, from its own page).
    actions = None
    change_form_template = "admin/neptun/retentionpolicy/change_form.html"

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ):
        policy = self.get_object(request, object_id)
        context = dict(extra_context or {})
        if policy is not None:
            preview = retention.retention_apply(tenant=policy.tenant, dry_run=True)
            context["retention_preview"] = sorted(preview.counts.items())
        return super().change_view(request, object_id, form_url, extra_context=context)


@admin.register(Erasure)
class ErasureAdmin(admin.ModelAdmin):
    list_display = ("id", "status", "tenant", "interface", "created_at", "completed_at")
    list_filter = ("status", "interface")
    search_fields = ("=email_hash",)
    actions = None
    readonly_fields = (
        "id",
        "status",
        "tenant",
        "email_hash",
        "record",
        "interface",
        "counts",
        "verification",
        "created_at",
        "completed_at",
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Erasure | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Erasure | None = None) -> bool:
        return False

    def get_object(self, request: HttpRequest, object_id: str, from_field: str | None = None):
        erasure = super().get_object(request, object_id, from_field)
        return erasure_refresh(erasure=erasure) if erasure is not None else None


@admin.action(permissions=["delete"], description="Erase selected users…")
def erase_users(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[User]):
    """Confirm, then erase each selected user with a receipt (see the module docstring)."""
    users = list(queryset.select_related("tenant").order_by("pk"))
    missing = [p for p in ERASE_PERMISSIONS if not request.user.has_perm(p)]
    if missing:
        modeladmin.message_user(
            request,
            "Erasing a user needs the delete permission of: " + ", ".join(missing) + ".",
            messages.ERROR,
        )
        return None
    if any(user.pk == request.user.pk for user in users):
        modeladmin.message_user(request, "You cannot erase yourself.", messages.ERROR)
        return None
    context = {
        **modeladmin.admin_site.each_context(request),
        "opts": modeladmin.model._meta,
        "title": "Erase users",
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
    }
    if request.POST.get("confirm") != "yes":
        context["previews"] = [(user, sorted(erasure_preview(user=user).items())) for user in users]
        return TemplateResponse(request, "admin/neptun/erase_users.html", context)
    ctx = DeletionContext(
        actor=request.user if isinstance(request.user, User) else None,
        interface=DeletionRecord.Interface.ADMIN,
        endpoint="admin: erase user",
        remote_addr=client_address(request),
    )
    receipts = []
    for user in users:
        try:
            receipts.append(receipt(user_erase(user=user, ctx=ctx)))
        except NotFound:
            continue  # erased meanwhile by someone else
    context["receipts"] = receipts
    return TemplateResponse(request, "admin/neptun/erasure_receipts.html", context)
