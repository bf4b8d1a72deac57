"""Concurrent deletes of overlapping chat sets, and a delete racing message posts.

Every request gets 200 or 404 (never a 500 or a deadlock error: chats are locked in
id order), batches are all or nothing, and the final state is exactly what the
successful requests deleted.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable

import pytest
from rest_framework.test import APIClient

from chats.models import Chat, Message
from neptun.models import AccessToken, ApiKey, DeletionRecord
from projects.models import ProjectChat
from tests.factories import ChatFactory, MessageFactory, ProjectFactory, UserFactory
from tests.reliability.conftest import close_thread_connection
from tests.security.conftest import login

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

JOIN_TIMEOUT = 60


def _run_together(calls: list[Callable[[], object]]) -> list[object]:
    """Run the calls in threads released at once; return results (or exceptions)."""
    barrier = threading.Barrier(len(calls))
    results: list[object] = [None] * len(calls)

    def worker(index: int, call: Callable[[], object]) -> None:
        try:
            barrier.wait(timeout=JOIN_TIMEOUT)
            results[index] = call()
        except Exception as exc:
            results[index] = exc
        finally:
            close_thread_connection()

    threads = [threading.Thread(target=worker, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=JOIN_TIMEOUT)
        assert not thread.is_alive(), "a request hung"
    return results


@pytest.mark.parametrize("round_", range(3))
def test_overlapping_batch_and_single_deletes(round_):
    rng = random.Random(round_)
    user = UserFactory()
    chats = ChatFactory.create_batch(40, owner=user)
    for chat in chats:
        MessageFactory.create_batch(3, chat=chat)
    ids = [chat.pk for chat in chats]
    # Four projects whose chat sets overlap; one chat may sit in several projects.
    batches = [sorted(rng.sample(ids, 15)) for _ in range(4)]
    projects = []
    for batch in batches:
        project = ProjectFactory(owner=user)
        ProjectChat.objects.bulk_create(ProjectChat(project=project, chat_id=i) for i in batch)
        projects.append(project)
    singles = rng.sample(ids, 4)
    key = ApiKey.generate(tenant=user.tenant)[1]
    clients = [login(user) for _ in range(len(batches) + len(singles))]
    v1 = APIClient()
    v1.credentials(HTTP_X_API_KEY=key)
    uuids = dict(Chat.objects.filter(pk__in=singles).values_list("pk", "uuid"))

    calls: list[Callable[[], object]] = []
    for client, project, batch in zip(clients, projects, batches, strict=False):
        url = f"/api/users/{user.pk}/projects/{project.pk}/chats"
        calls.append(lambda c=client, u=url, b=batch: c.delete(u, {"chat_ids": b}, format="json"))
    for client, chat_id in zip(clients[len(batches) :], singles[:2], strict=False):
        calls.append(lambda c=client, i=chat_id: c.delete(f"/api/users/{user.pk}/chats/{i}"))
    for chat_id in singles[2:]:
        calls.append(lambda i=chat_id: v1.delete(f"/api/v1/chats/{uuids[i]}"))
    wanted = [*batches, *([i] for i in singles)]

    responses = _run_together(calls)

    deleted: set[int] = set()
    for response, ids_of_call in zip(responses, wanted, strict=True):
        assert not isinstance(response, Exception), repr(response)
        assert response.status_code in (200, 404), response.content
        if response.status_code == 200:
            deleted.update(ids_of_call)
    for response, ids_of_call in zip(responses, wanted, strict=True):
        if response.status_code == 404:
            # All or nothing: refused only because another request got there first.
            assert set(ids_of_call) & deleted, (ids_of_call, response.content)
    remaining = set(Chat.objects.values_list("pk", flat=True))
    assert remaining == set(ids) - deleted
    assert Message.objects.filter(chat_id__in=remaining).count() == 3 * len(remaining)
    assert not Message.objects.exclude(chat_id__in=remaining).exists()
    successes = sum(1 for r in responses if r.status_code == 200)
    assert DeletionRecord.objects.count() == successes


def test_overlapping_conversation_purges_and_batch_deletes():
    user = UserFactory()
    token = AccessToken.generate(user=user)[1]
    chats = ChatFactory.create_batch(30, owner=user)
    for chat in chats:
        MessageFactory.create_batch(2, chat=chat)
    project = ProjectFactory(owner=user)
    ProjectChat.objects.bulk_create(ProjectChat(project=project, chat=c) for c in chats[:20])
    session = login(user)
    bearer = [APIClient() for _ in range(2)]
    for client in bearer:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    url = f"/api/users/{user.pk}/projects/{project.pk}/chats"
    ids = [c.pk for c in chats[:20]]
    responses = _run_together(
        [
            lambda: session.delete(url, {"chat_ids": ids}, format="json"),
            lambda: bearer[0].delete("/api/chat/conversations/all", {}, format="json"),
            lambda: bearer[1].delete("/api/collections/all", {}, format="json"),
        ]
    )
    for response in responses:
        assert not isinstance(response, Exception), repr(response)
        assert response.status_code in (200, 404), response.content
    assert any(r.status_code == 200 for r in responses[1:])
    assert not Chat.objects.filter(owner=user).exists()
    assert not Message.objects.exists()


@pytest.mark.parametrize("dialect", ["session", "v1"])
def test_delete_racing_message_posts_leaves_no_orphan(dialect):
    user = UserFactory()
    chat = ChatFactory(owner=user)
    MessageFactory.create_batch(5, chat=chat)
    if dialect == "session":
        poster, deleter = login(user), login(user)
        post_url = f"/api/users/{user.pk}/chats/{chat.pk}/messages"
        delete_url = f"/api/users/{user.pk}/chats/{chat.pk}"
    else:
        key = ApiKey.generate(tenant=user.tenant)[1]
        poster, deleter = APIClient(), APIClient()
        for client in (poster, deleter):
            client.credentials(HTTP_X_API_KEY=key)
        post_url = f"/api/v1/chats/{chat.uuid}/messages"
        delete_url = f"/api/v1/chats/{chat.uuid}"
    statuses: list[int] = []

    def post_many() -> None:
        for n in range(30):
            response = poster.post(post_url, {"role": "user", "content": f"m{n}"}, format="json")
            statuses.append(response.status_code)
            if response.status_code == 404:
                break

    def delete_after_a_few() -> object:
        threading.Event().wait(0.05)
        return deleter.delete(delete_url)

    results = _run_together([post_many, delete_after_a_few])
    assert not isinstance(results[0], Exception), repr(results[0])
    deleted = results[1]
    assert not isinstance(deleted, Exception), repr(deleted)
    assert deleted.status_code == 200, deleted.content
    assert set(statuses) <= {201, 404}, statuses
    assert not Chat.objects.filter(pk=chat.pk).exists()
    assert not Message.objects.filter(chat_id=chat.pk).exists()
    assert not Message.objects.exclude(chat_id__in=Chat.objects.values("pk")).exists()
