"""Admin for projects and their chat links.

Projects are deleted only through :func:`chats.services.projects_delete`: the staff
member chooses between removing the links only (the chats stay) and removing the
chats too; the confirmation page shows the counts of both side by side.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import Count, QuerySet
from django.http import HttpRequest

from chats.deletion import rules
from neptun.admin import OwnerFilter, ReadOnlyAdmin
from neptun.admin_deletion import AdminDeletion, DeletionForm, ServiceDeletionAdmin
from projects.models import Project, ProjectChat

LINKS_ONLY = "links"
WITH_CHATS = "chats"


class ProjectDeletionForm(DeletionForm):
    mode = forms.ChoiceField(
        label="Delete",
        choices=[
            (LINKS_ONLY, "the projects and their links only (the chats stay)"),
            (WITH_CHATS, "the projects with their chats"),
        ],
        initial=LINKS_ONLY,
        widget=forms.RadioSelect,
        required=False,  # absent means links only: a missing field never widens a deletion
    )

    @classmethod
    def keywords(cls, options: dict[str, Any]) -> dict[str, Any]:
        return {"with_chats": options.get("mode") == WITH_CHATS}


@admin.register(Project)
class ProjectAdmin(ServiceDeletionAdmin):
    list_display = ("name", "id", "owner", "chat_count", "created_at")
    list_filter = (
        OwnerFilter,
        ("owner__tenant", admin.RelatedFieldListFilter),
        ("created_at", admin.DateFieldListFilter),
    )
    list_select_related = ("owner",)
    search_fields = ("name", "=id", "owner__email")
    date_hierarchy = "created_at"
    raw_id_fields = ("owner",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Project]:
        return super().get_queryset(request).annotate(chat_count=Count("links"))

    @admin.display(description="chats", ordering="chat_count")
    def chat_count(self, obj: Project) -> int:
        return obj.chat_count  # type: ignore[attr-defined]

    deletion = AdminDeletion(
        door="projects_delete",
        argument="projects",
        kept=rules.projects_kept,
        intro="Choose whether the chats of these projects go too. Links only: the "
        "projects and their links go, the chats stay. With their chats: each chat goes "
        "with its messages, links and own files.",
        form=ProjectDeletionForm,
        choices=[
            ("Links only", {"mode": LINKS_ONLY}),
            ("With their chats", {"mode": WITH_CHATS}),
        ],
    )


@admin.register(ProjectChat)
class ProjectChatAdmin(ReadOnlyAdmin):
    """Browse only: a link goes with its project or its chat."""

    list_display = ("project", "chat", "created_at")
    list_filter = (("created_at", admin.DateFieldListFilter),)
    list_select_related = ("project", "chat")
    search_fields = ("project__name", "=chat__uuid", "=chat__id")
    raw_id_fields = ("project", "chat")
