"""The confirmation page at scale: aggregate queries, flat memory, no object lists.

``test_confirmation_at_scale`` renders the "Delete selected chats" confirmation for
"select all" over 10,000 chats with 1,000,000 messages (``NEPTUN_ADMIN_BENCH_CHATS``
and ``NEPTUN_ADMIN_BENCH_MESSAGES`` change the size) and prints the time, the peak
Python memory and the number of queries; run it with ``-s`` to see the figure.
"""

from __future__ import annotations

import os
import time
import tracemalloc

import pytest
from django.contrib.admin import helpers
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from chats.models import Chat, Message
from neptun.models import User
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

CHATS = reverse("admin:chats_chat_changelist")


def _seed(owner: User, chats: int, messages: int) -> None:
    """Chats by bulk insert, messages set-based in SQL (a million in seconds)."""
    Chat.objects.bulk_create(
        (Chat(owner=owner, title=f"bench {i}") for i in range(chats)), batch_size=5000
    )
    per_chat = messages // chats
    table, chat_table = Message._meta.db_table, Chat._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"INSERT INTO {table} (chat_id, role, content, created_at) "
                f"SELECT c.id, 'user', 'm', now() FROM {chat_table} c "
                "CROSS JOIN generate_series(1, %s) WHERE c.owner_id = %s",
                [per_chat, owner.pk],
            )
        else:
            cursor.execute(
                f"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < %s) "
                f"INSERT INTO {table} (chat_id, role, content, created_at) "
                f"SELECT c.id, 'user', 'm', CURRENT_TIMESTAMP FROM {chat_table} c, n "
                "WHERE c.owner_id = %s",
                [per_chat, owner.pk],
            )


def _confirm_all(client, owner: User):
    any_id = Chat.objects.filter(owner=owner).values_list("pk", flat=True).first()
    return client.post(
        f"{CHATS}?owner={owner.pk}",
        {"action": "delete_selected", helpers.ACTION_CHECKBOX_NAME: [any_id], "select_across": "1"},
    )


def _measure(client, owner: User):
    """Time (without tracing, which slows Python down), then peak memory (traced)."""
    started = time.perf_counter()
    with CaptureQueriesContext(connection) as queries:
        response = _confirm_all(client, owner)
    seconds = time.perf_counter() - started
    assert response.status_code == 200
    n_queries = len(queries.captured_queries)
    tracemalloc.start()
    _confirm_all(client, owner)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return response, seconds, peak, n_queries


def test_confirmation_queries_do_not_grow_with_messages(superuser_client, monkeypatch):
    from chats.deletion import sql

    small, big = UserFactory(), UserFactory()
    # Both above SMALL_SELECTION (lowered to 100 here, to keep the test small), so
    # both are staged in the temporary table (a listed selection takes fewer queries).
    monkeypatch.setattr(sql, "SMALL_SELECTION", 100)
    _seed(small, chats=110, messages=220)
    _seed(big, chats=300, messages=6000)
    _, _, _, small_queries = _measure(superuser_client, small)
    response, _, _, big_queries = _measure(superuser_client, big)
    assert small_queries == big_queries
    goes = {row["label"]: row["values"] for row in response.context["goes"]}
    assert goes["Chats"] == [300] and goes["Messages"] == [6000]
    # One hidden id (what the browser sent), not one per selected chat.
    assert response.content.decode().count(f'name="{helpers.ACTION_CHECKBOX_NAME}"') == 1


@pytest.mark.slow
def test_confirmation_at_scale(superuser_client, record_property):
    # CI runs a tenth of the benchmark's scale; the timing figure is printed, never
    # asserted (speed is measured by bench/, not by tests).
    chats = int(os.environ.get("NEPTUN_ADMIN_BENCH_CHATS", "2000"))
    messages = int(os.environ.get("NEPTUN_ADMIN_BENCH_MESSAGES", "100000"))
    owner = UserFactory()
    started = time.perf_counter()
    _seed(owner, chats=chats, messages=messages)
    seeded = time.perf_counter() - started

    response, seconds, peak, queries = _measure(superuser_client, owner)

    goes = {row["label"]: row["values"] for row in response.context["goes"]}
    assert goes["Chats"] == [chats]
    assert goes["Messages"] == [messages // chats * chats]
    figure = (
        f"admin confirmation, select all {chats} chats / {goes['Messages'][0]} messages "
        f"on {connection.vendor}: {seconds:.2f} s, peak Python memory "
        f"{peak / 1024 / 1024:.1f} MiB, {queries} queries (seeding took {seeded:.1f} s)"
    )
    print("\n" + figure)
    record_property("admin_confirmation", figure)
    # Chat ids of the selection are all Python holds (~10,000 ints): not the messages.
    assert peak < 40 * 1024 * 1024, figure
