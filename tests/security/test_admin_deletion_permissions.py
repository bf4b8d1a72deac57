"""Admin deletions need the delete permission of every kind they remove.

For every deleting admin path (the "Delete selected …" actions, the single-object
delete pages, the conversations action with its flags, "Purge orphans"), a staff
member holding only the view and the deleting model's delete permission is refused
when the deletion would take a kind they may not delete: the confirmation page names
the missing permissions and offers no confirm button, and a confirming POST anyway
deletes nothing (database snapshot before and after). With exactly the needed
permissions, and as a superuser, the same deletion goes ahead.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from chats.models import Chat
from collections_app.models import Collection, File
from neptun.models import AccessToken, ApiKey, DeletionRecord, Tenant, User
from projects.models import Project
from tests.admin.conftest import staff_with
from tests.admin.test_actions import action_post, confirm_post, texts
from tests.factories import ChatFactory, MessageFactory, ProjectChatFactory, UserFactory
from tests.security.conftest import Victim, snapshot

# The purge commits batch by batch, and blob removal runs on commit.
pytestmark = pytest.mark.django_db(transaction=True)

CHATS = reverse("admin:chats_chat_changelist")
PROJECTS = reverse("admin:projects_project_changelist")
COLLECTIONS = reverse("admin:collections_app_collection_changelist")
FILES = reverse("admin:collections_app_file_changelist")
USERS = reverse("admin:neptun_user_changelist")
TENANTS = reverse("admin:neptun_tenant_changelist")
PURGE = reverse("admin:neptun_deletionrecord_purge_orphans")

PERMISSION = re.compile(r"\(([a-z_]+\.delete_[a-z]+)\)")

MESSAGE = "chats.delete_message"
CHAT = "chats.delete_chat"
LINK = "projects.delete_projectchat"
CONNECTION = "chats.delete_chatconnection"
FILE = "collections_app.delete_file"
COLLECTION = "collections_app.delete_collection"
PROJECT = "projects.delete_project"
USER = "neptun.delete_user"
TOKEN = "neptun.delete_accesstoken"
API_KEY = "neptun.delete_apikey"
TENANT = "neptun.delete_tenant"
PURGE_GATE = (
    "neptun.view_deletionrecord",
    "chats.delete_chat",
    "chats.delete_chatconnection",
    "collections_app.delete_collection",
    "collections_app.delete_file",
)
#: What a user (with the victim's data) takes with them, the user row aside.
USER_KINDS = {PROJECT, CHAT, MESSAGE, FILE, COLLECTION, LINK, CONNECTION, TOKEN}


def full_snapshot() -> dict[str, Any]:
    """The security suite's snapshot plus tenants, API keys and access tokens."""
    rows = snapshot()
    for model in (Tenant, ApiKey, AccessToken):
        rows[model.__name__] = list(model.objects.order_by("pk").values_list())
    return rows


def client_of(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def named_permissions(response) -> set[str]:
    return set(PERMISSION.findall(response.content.decode()))


# --------------------------------------------------------------------------- the paths


def _action(url: str, action: str, ids: Callable[[Victim], list[int]], **options: str):
    """Preview and confirm of a bulk action (the previewed options posted back)."""

    def page(client: Client, victim: Victim):
        extra = {"_neptun_preview": "1"} if options else {}  # count with these options
        return action_post(client, url, action, ids(victim), **extra, **options)

    def confirm(client: Client, victim: Victim, shown) -> Any:
        return confirm_post(
            client,
            url,
            action,
            ids(victim),
            _neptun_previewed=shown.context["previewed"],
            **options,
        )

    return page, confirm


def _delete_page(name: str, pk: Callable[[Victim], int], **options: str):
    """GET and POST of a single-object delete page."""

    def page(client: Client, victim: Victim):
        return client.get(reverse(name, args=[pk(victim)]), options)

    def confirm(client: Client, victim: Victim, shown) -> Any:
        return client.post(reverse(name, args=[pk(victim)]), {"post": "yes", **options})

    return page, confirm


def _purge():
    def page(client: Client, victim: Victim):
        return client.get(PURGE)

    def confirm(client: Client, victim: Victim, shown) -> Any:
        return client.post(PURGE, {"confirm": "True"})

    return page, confirm


def _old_null_chat(victim: Victim) -> None:
    """An orphan for the purge: a chat with no type, old, with messages and a link."""
    chat = ChatFactory(
        owner=victim.user, conversation_type=None, created_at=timezone.now() - timedelta(days=2)
    )
    MessageFactory.create_batch(2, chat=chat)
    ProjectChatFactory(chat=chat, project=victim.project)


@dataclass
class Case:
    id: str
    gate: tuple[str, ...]  # view + the deleting model's delete permission
    missing: set[str]  # what the victim's data makes it need beyond the gate
    paths: tuple[Callable[..., Any], Callable[..., Any]]
    button: str  # marks the confirm button in the page
    gone: Callable[[Victim], bool]
    setup: Callable[[Victim], None] | None = None
    column: str | None = None  # the option, when the page previews several side by side

    def named(self, response) -> set[str]:
        """The permissions the page says are missing (for this case's option)."""
        if self.column is None:
            return named_permissions(response)
        lacking = dict(response.context["missing"]).get(self.column, [])
        html = response.content.decode()
        assert all(text in html for text in lacking)
        return set(PERMISSION.findall(" ".join(lacking)))


def _no_chat(victim: Victim) -> bool:
    return not Chat.objects.filter(pk=victim.chat.pk).exists()


def _no_project(victim: Victim) -> bool:
    return not Project.objects.filter(pk=victim.project.pk).exists()


def _no_user(victim: Victim) -> bool:
    return not User.objects.filter(pk=victim.user.pk).exists()


ACTION_BUTTON = 'name="_neptun_confirm"'
PAGE_BUTTON = 'name="post"'
PURGE_BUTTON = 'id="neptun-confirm-button"'
CHAT_KINDS = {MESSAGE, LINK, CONNECTION, FILE}
CONVERSATION_FLAGS = {
    "delete_files_and_collections": "on",
    "delete_regular_chats": "on",
    "delete_user_file_conversations": "on",
    "delete_global_collection_conversations": "on",
    "delete_null_conversations": "on",
}
NO_FILES_FLAGS = {**CONVERSATION_FLAGS}
del NO_FILES_FLAGS["delete_files_and_collections"]

CASES = [
    Case(
        "chats: delete selected",
        ("chats.view_chat", CHAT),
        CHAT_KINDS,
        _action(CHATS, "delete_selected", lambda v: [v.chat.pk]),
        ACTION_BUTTON,
        _no_chat,
    ),
    Case(
        "chats: delete page",
        ("chats.view_chat", CHAT),
        CHAT_KINDS,
        _delete_page("admin:chats_chat_delete", lambda v: v.chat.pk),
        PAGE_BUTTON,
        _no_chat,
    ),
    Case(
        "projects: delete selected, links only",
        ("projects.view_project", PROJECT),
        {LINK},
        _action(PROJECTS, "delete_selected", lambda v: [v.project.pk], mode="links"),
        ACTION_BUTTON,
        lambda v: _no_project(v) and not _no_chat(v),
        column="Links only",
    ),
    Case(
        "projects: delete selected, with their chats",
        ("projects.view_project", PROJECT),
        {CHAT, *CHAT_KINDS},
        _action(PROJECTS, "delete_selected", lambda v: [v.project.pk], mode="chats"),
        ACTION_BUTTON,
        lambda v: _no_project(v) and _no_chat(v),
        column="With their chats",
    ),
    Case(
        "projects: delete page, links only",
        ("projects.view_project", PROJECT),
        {LINK},
        _delete_page("admin:projects_project_delete", lambda v: v.project.pk),
        PAGE_BUTTON,
        lambda v: _no_project(v) and not _no_chat(v),
        column="Links only",
    ),
    Case(
        "collections: delete selected",
        ("collections_app.view_collection", COLLECTION),
        {FILE},
        _action(COLLECTIONS, "delete_selected", lambda v: [v.collection.pk]),
        ACTION_BUTTON,
        lambda v: not Collection.objects.filter(pk=v.collection.pk).exists(),
    ),
    Case(
        "collections: delete page",
        ("collections_app.view_collection", COLLECTION),
        {FILE},
        _delete_page("admin:collections_app_collection_delete", lambda v: v.collection.pk),
        PAGE_BUTTON,
        lambda v: not Collection.objects.filter(pk=v.collection.pk).exists(),
    ),
    Case(
        "users: delete selected",
        ("neptun.view_user", USER),
        USER_KINDS,
        _action(USERS, "delete_selected", lambda v: [v.user.pk]),
        ACTION_BUTTON,
        _no_user,
    ),
    Case(
        "users: delete page",
        ("neptun.view_user", USER),
        USER_KINDS,
        _delete_page("admin:neptun_user_delete", lambda v: v.user.pk),
        PAGE_BUTTON,
        _no_user,
    ),
    Case(
        "users: delete conversations, with files and collections",
        ("neptun.view_user", CHAT),
        {MESSAGE, LINK, CONNECTION, FILE, COLLECTION},
        _action(USERS, "delete_conversations", lambda v: [v.user.pk], **CONVERSATION_FLAGS),
        ACTION_BUTTON,
        lambda v: _no_chat(v) and not Collection.objects.filter(pk=v.collection.pk).exists(),
    ),
    Case(
        "users: delete conversations, files and collections kept",
        ("neptun.view_user", CHAT),
        {MESSAGE, LINK, CONNECTION},
        _action(USERS, "delete_conversations", lambda v: [v.user.pk], **NO_FILES_FLAGS),
        ACTION_BUTTON,
        lambda v: _no_chat(v) and Collection.objects.filter(pk=v.collection.pk).exists(),
    ),
    Case(
        "tenants: delete selected",
        ("neptun.view_tenant", TENANT),
        {USER, API_KEY, *USER_KINDS},
        _action(TENANTS, "delete_selected", lambda v: [v.user.tenant_id]),
        ACTION_BUTTON,
        _no_user,
    ),
    Case(
        "tenants: delete page",
        ("neptun.view_tenant", TENANT),
        {USER, API_KEY, *USER_KINDS},
        _delete_page("admin:neptun_tenant_delete", lambda v: v.user.tenant_id),
        PAGE_BUTTON,
        _no_user,
    ),
    Case(
        "purge orphans",
        PURGE_GATE,
        {MESSAGE, LINK},
        _purge(),
        PURGE_BUTTON,
        lambda v: (
            not Chat.objects.filter(conversation_type__isnull=True, owner=v.user)
            .exclude(pk=v.chat.pk)
            .filter(created_at__lt=timezone.now() - timedelta(days=1))
            .exists()
        ),
        setup=_old_null_chat,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_refused_without_the_permission_of_what_it_takes(victim: Victim, case: Case):
    if case.setup:
        case.setup(victim)
    client = client_of(staff_with(*case.gate))
    before = full_snapshot()
    page, confirm = case.paths

    shown = page(client, victim)
    assert shown.status_code == 200
    html = shown.content.decode()
    assert case.named(shown) == case.missing
    assert "doesn't have permission to delete" in html
    assert case.button not in html

    response = confirm(client, victim, shown)
    assert response.status_code in (200, 403)
    if response.status_code == 200:
        assert any("Nothing was deleted" in text for text in texts(response))
        assert case.named(response) == case.missing
    assert full_snapshot() == before
    assert not DeletionRecord.objects.exists()


@pytest.mark.parametrize("who", ["exact permissions", "superuser"])
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_goes_ahead_with_every_needed_permission(victim: Victim, case: Case, who: str):
    if case.setup:
        case.setup(victim)
    if who == "superuser":
        staff = UserFactory(is_staff=True, is_superuser=True)
    else:
        staff = staff_with(*case.gate, *case.missing)
    client = client_of(staff)
    page, confirm = case.paths

    shown = page(client, victim)
    assert shown.status_code == 200
    assert case.named(shown) == set()
    assert case.button in shown.content.decode()

    response = confirm(client, victim, shown)
    assert response.status_code == 302, texts(response)
    assert case.gone(victim)
    assert DeletionRecord.objects.filter(actor=staff).exists()


@pytest.mark.parametrize(
    "case",
    [
        Case(
            "files: delete selected",
            ("collections_app.view_file", FILE),
            set(),
            _action(FILES, "delete_selected", lambda v: [v.file.pk]),
            ACTION_BUTTON,
            lambda v: not File.objects.filter(pk=v.file.pk).exists(),
        ),
        Case(
            "files: delete page",
            ("collections_app.view_file", FILE),
            set(),
            _delete_page("admin:collections_app_file_delete", lambda v: v.file.pk),
            PAGE_BUTTON,
            lambda v: not File.objects.filter(pk=v.file.pk).exists(),
        ),
    ],
    ids=lambda c: c.id,
)
def test_a_deletion_of_one_kind_needs_only_that_kind(victim: Victim, case: Case):
    """Files take nothing with them (their blobs are not rows): the gate is enough."""
    test_goes_ahead_with_every_needed_permission(victim, case, "exact permissions")


def test_only_kinds_actually_taken_count():
    """Like Django: a chat with no messages, links or files needs only delete_chat."""
    chat = ChatFactory()
    client = client_of(staff_with("chats.view_chat", CHAT))
    response = confirm_post(client, CHATS, "delete_selected", [chat.pk])
    assert response.status_code == 302
    assert not Chat.objects.filter(pk=chat.pk).exists()


# --------------------------------------------------------------------------- one option of two


def test_project_page_offers_the_option_it_may_run_and_refuses_the_other(victim: Victim):
    client = client_of(staff_with("projects.view_project", PROJECT, LINK))
    before = full_snapshot()

    shown = action_post(client, PROJECTS, "delete_selected", [victim.project.pk])
    assert shown.status_code == 200
    assert ACTION_BUTTON in shown.content.decode()  # links only is allowed
    missing = dict(shown.context["missing"])
    assert set(missing) == {"With their chats"}
    assert named_permissions(shown) == {CHAT, *CHAT_KINDS} - {LINK}

    response = confirm_post(client, PROJECTS, "delete_selected", [victim.project.pk], mode="chats")
    assert response.status_code == 200
    assert any("Nothing was deleted" in text for text in texts(response))
    assert full_snapshot() == before

    url = reverse("admin:projects_project_delete", args=[victim.project.pk])
    assert client.post(url, {"post": "yes", "mode": "chats"}).status_code == 403
    assert full_snapshot() == before

    response = confirm_post(client, PROJECTS, "delete_selected", [victim.project.pk], mode="links")
    assert response.status_code == 302
    assert _no_project(victim) and not _no_chat(victim)


# --------------------------------------------------------------------------- the reported cases


def test_report_project_deleter_cannot_take_another_users_chats(victim: Victim):
    """view_project + delete_project, "Delete selected projects" with their chats."""
    client = client_of(staff_with("projects.view_project", "projects.delete_project"))
    before = full_snapshot()
    confirm_post(client, PROJECTS, "delete_selected", [victim.project.pk], mode="chats")
    assert full_snapshot() == before
    assert Chat.objects.filter(pk=victim.chat.pk).exists()


def test_report_conversations_action_cannot_take_a_collection(victim: Victim):
    """view_user + delete_chat, "Delete conversations of selected users"."""
    client = client_of(staff_with("neptun.view_user", "chats.delete_chat"))
    before = full_snapshot()
    shown = action_post(client, USERS, "delete_conversations", [victim.user.pk])
    confirm_post(
        client,
        USERS,
        "delete_conversations",
        [victim.user.pk],
        _neptun_previewed=shown.context["previewed"],
        **CONVERSATION_FLAGS,
    )
    assert full_snapshot() == before
    assert Collection.objects.filter(pk=victim.collection.pk).exists()


def test_report_tenant_deleter_cannot_take_the_tenants_users(victim: Victim):
    """view_tenant + delete_tenant, "Delete selected tenants"."""
    client = client_of(staff_with("neptun.view_tenant", "neptun.delete_tenant"))
    before = full_snapshot()
    confirm_post(client, TENANTS, "delete_selected", [victim.user.tenant_id])
    assert full_snapshot() == before
    assert User.objects.filter(pk=victim.user.pk).exists()


# --------------------------------------------------------------------------- the mapping


def test_every_kind_maps_to_an_existing_delete_permission(db):
    from neptun.admin_deletion import DELETE_PERMISSIONS

    for kind, perm in DELETE_PERMISSIONS.items():
        app_label, codename = perm.split(".")
        assert Permission.objects.filter(
            content_type__app_label=app_label, codename=codename
        ).exists(), kind
    assert {MESSAGE, LINK, CONNECTION, TOKEN, API_KEY} <= set(DELETE_PERMISSIONS.values())


def test_superusers_lack_nothing_and_inactive_superusers_everything(db):
    from neptun.admin_deletion import DELETE_PERMISSIONS, missing_permissions

    counts = dict.fromkeys(DELETE_PERMISSIONS, 1)
    assert missing_permissions(UserFactory(is_staff=True, is_superuser=True), counts) == []
    inactive = UserFactory(is_staff=True, is_superuser=True, is_active=False)
    assert len(missing_permissions(inactive, counts)) == len(DELETE_PERMISSIONS)
