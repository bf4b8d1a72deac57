"""End to end in a real headless browser: a staff member deletes chats in the admin.

Playwright's Python package drives Debian's Chromium (``.ci/browser.sh`` installs
it). Skipped only when ``/usr/bin/chromium`` is missing outside CI; in CI
(``CI=true``) a missing browser is a failure.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group
from django.db import connections
from django.utils import timezone

from chats import tasks
from chats.models import BlobRemoval, Chat, Message, ScheduledJob
from neptun.models import DeletionRecord, Erasure, RetentionPolicy
from tests.factories import (
    PASSWORD,
    AccessTokenFactory,
    ApiKeyFactory,
    ChatConnectionFactory,
    ChatFactory,
    CollectionFactory,
    DeletionRecordFactory,
    FileFactory,
    MessageFactory,
    ProjectChatFactory,
    ProjectFactory,
    TenantFactory,
    UserFactory,
)

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


@pytest.fixture
def page(monkeypatch):
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{CHROMIUM} is missing in CI (.ci/browser.sh installs it)")
        pytest.skip(f"{CHROMIUM} is not installed (run .ci/browser.sh)")
    # Playwright's sync API runs an event loop in this thread; the ORM calls the test
    # makes around it are still plain synchronous calls.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.set_default_timeout(20_000)
        try:
            yield page
        finally:
            # Inside Playwright's event loop, the ORM used connections of its own
            # (asgiref's context-local storage): close them, or they outlive the test.
            connections.close_all()
            browser.close()


def _shot(page, name: str) -> None:
    """Screenshots for a human look, when NEPTUN_SCREENSHOTS names a folder."""
    folder = os.environ.get("NEPTUN_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


@pytest.mark.slow
def test_staff_deletes_selected_chats(live_server, transactional_db, page):
    from playwright.sync_api import expect

    staff = UserFactory(email="staff@example.com", is_staff=True, is_superuser=True)
    owner = UserFactory(email="owner@example.com")
    doomed = [ChatFactory(owner=owner, title=f"doomed chat {i}") for i in range(2)]
    kept = ChatFactory(owner=owner, title="kept chat")
    for chat in [*doomed, kept]:
        MessageFactory.create_batch(3, chat=chat)

    page.goto(f"{live_server.url}/admin/login/?next=/admin/chats/chat/")
    page.fill("#id_username", staff.email)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url("**/admin/chats/chat/")
    expect(page.locator("#result_list")).to_contain_text("doomed chat 0")
    _shot(page, "1-changelist")

    for chat in doomed:
        page.check(f"input.action-select[value='{chat.pk}']")
    page.select_option("select[name=action]", "delete_selected")
    page.click("button[name=index]")

    expect(page.locator("h1")).to_contain_text("Delete 2 chats?")
    goes = page.locator("#neptun-goes")
    expect(goes.locator("tr", has_text="Chats")).to_contain_text("2")
    expect(goes.locator("tr", has_text="Messages")).to_contain_text("6")
    _shot(page, "2-confirmation")
    assert Chat.objects.count() == 3  # nothing deleted before confirming

    page.click("#neptun-confirm-button")
    page.wait_for_url("**/admin/chats/chat/")
    expect(page.locator(".messagelist")).to_contain_text("Deleted 2 chats, 6 messages")
    expect(page.locator("#result_list")).to_contain_text("kept chat")
    expect(page.locator("#result_list")).not_to_contain_text("doomed chat")
    _shot(page, "3-after")

    assert list(Chat.objects.values_list("pk", flat=True)) == [kept.pk]
    assert Message.objects.count() == 3
    record = DeletionRecord.objects.get()
    assert (record.interface, record.actor_id) == ("admin", staff.pk)


def _a_few_rows_of_every_model() -> None:
    """Rows with realistic widths: long emails and titles, UUIDs, dates."""
    Group.objects.create(name="Support staff who may delete chats")
    tenant = TenantFactory(name="acme-corporation-europe")
    for i in range(3):
        owner = UserFactory(
            email=f"firstname.lastname{i}@a-long-company-name.example.com", tenant=tenant
        )
        handbook = CollectionFactory(
            owner=owner, name=f"Quarterly planning documents and meeting notes {i}"
        )
        chat = ChatFactory(
            owner=owner,
            title=f"A rather long chat title about the quarterly planning meeting {i}",
            conversation_type="user_files",
            collection=handbook,
        )
        MessageFactory(chat=chat, content="How many vacation days do we get this year? " * 3)
        FileFactory(
            owner=owner,
            chat=chat,
            collection=handbook,
            name=f"quarterly-planning-meeting-notes-final-version-{i}.pdf",
            content_type="application/pdf",
        )
        ChatConnectionFactory(chat=chat, connection_id=f"specific.inmemory!{'x' * 24}{i}")
        project = ProjectFactory(owner=owner, name=f"Launch plan for the new product line {i}")
        ProjectChatFactory(project=project, chat=chat)
        ApiKeyFactory(tenant=tenant, name=f"continuous-integration-key-{i}")
        AccessTokenFactory(user=owner, name=f"command-line-client-token-{i}")
        DeletionRecordFactory(
            actor_email=owner.email,
            endpoint=f"DELETE /api/users/{owner.pk}/projects/{project.pk}/chats",
            counts={"chats": 12, "messages": 3400, "files": 5, "collections": 1, "blobs": 5},
        )
        BlobRemoval.objects.create(
            name=f"uploads/{owner.pk}/2026/12/01/quarterly-report-final-version-{i}.pdf",
            attempts=2,
            last_error="OSError: storage unavailable",
        )
    # Retention: a tenant's own policy and an erasure receipt (a keyed hash, no email).
    RetentionPolicy.objects.create(
        tenant=tenant, inactive_days=365, conversation_types=["regular"], temporary_hours=720
    )
    Erasure.objects.create(
        tenant=tenant,
        email_hash="a" * 64,
        interface=DeletionRecord.Interface.API,
        status=Erasure.Status.COMPLETE,
        counts={"chats": 12, "messages": 3400, "files": 5, "users": 1},
        verification={"verified": True, "rows_referencing_user": 0, "blobs_remaining": 0},
        completed_at=timezone.now(),
    )
    # The worker's rows: its schedule and a queued job.
    ScheduledJob.objects.create(name="outbox-sweep", next_run_at=timezone.now())
    tasks.sweep_outbox.enqueue()


@pytest.mark.slow
def test_every_changelist_fits_a_1280_pixel_window(live_server, transactional_db, page):
    """No changelist overflows a 1280 px wide window: the page does not scroll
    sideways and the results table fits its container (no column cut off)."""
    _a_few_rows_of_every_model()
    staff = UserFactory(email="staff@example.com", is_staff=True, is_superuser=True)
    assert page.viewport_size["width"] == 1280
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", staff.email)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url("**/admin/")

    overflowing = {}
    for model in admin.site._registry:
        opts = model._meta
        url = f"/admin/{opts.app_label}/{opts.model_name}/"
        page.goto(f"{live_server.url}{url}")
        page.wait_for_selector("#result_list")
        sizes = page.evaluate(
            """() => {
                const doc = document.documentElement;
                const results = document.querySelector('#changelist .results');
                const table = document.querySelector('#result_list');
                return {
                    page: [doc.scrollWidth, doc.clientWidth],
                    results: [results.scrollWidth, results.clientWidth],
                    table: [Math.ceil(table.getBoundingClientRect().right),
                            Math.floor(results.getBoundingClientRect().right)],
                };
            }"""
        )
        _shot(page, f"1280-{opts.app_label}-{opts.model_name}")
        if any(used > available for used, available in sizes.values()):
            overflowing[url] = sizes
    assert overflowing == {}
