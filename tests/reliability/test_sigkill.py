"""A server process killed (SIGKILL) in the middle of a large deletion.

A real daphne process serves the app on loopback against the pytest PostgreSQL
database (data committed with ``transactional_db``). A large deletion is fired; the
moment PostgreSQL shows it running, the server is killed. Afterwards the database
holds all of it or none of it — per transaction: the whole request for a deletion
below ``DELETION_BATCH_THRESHOLD``, each batch of chats above it — and no blob of a
surviving file was removed.
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import requests
from django.conf import settings
from django.core.files.storage import default_storage
from django.db import connection
from django.db.models import Count
from django.test import Client

from chats.models import Chat, Message
from collections_app.models import File
from neptun.models import AccessToken
from projects.models import ProjectChat
from tests.factories import (
    ChatFactory,
    CollectionFactory,
    FileFactory,
    ProjectFactory,
    UserFactory,
)
from tests.servers import daphne, serve, server_env

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

WATCH_TIMEOUT = 60
CHATS = 1500
MESSAGES_PER_CHAT = 100
FILES = 60
APP = ["neptun.asgi:application"]


@contextmanager
def _server(extra_env: dict[str, str]) -> Iterator[tuple[str, subprocess.Popen]]:
    """A daphne process on a free loopback port; killed in any case on exit."""
    env = server_env(MEDIA_ROOT=str(settings.MEDIA_ROOT), **extra_env)
    with serve(daphne, env, kill=True) as (address, process):
        yield f"http://{address}", process


def _seed():
    """A user with CHATS chats of MESSAGES_PER_CHAT messages, files with blobs, a project."""
    user = UserFactory()
    collection = CollectionFactory(owner=user)
    Chat.objects.bulk_create(Chat(owner=user, title=f"c{i}") for i in range(CHATS))
    chat_ids = list(Chat.objects.filter(owner=user).order_by("id").values_list("id", flat=True))
    Message.objects.bulk_create(
        (Message(chat_id=c, content="x" * 50) for c in chat_ids for _ in range(MESSAGES_PER_CHAT)),
        batch_size=10_000,
    )
    project = ProjectFactory(owner=user)
    ProjectChat.objects.bulk_create(ProjectChat(project=project, chat_id=c) for c in chat_ids)
    step = len(chat_ids) // FILES
    own = [FileFactory(owner=user, chat_id=chat_ids[i * step]) for i in range(FILES)]
    kept = [
        FileFactory(owner=user, chat_id=chat_ids[i * step], collection=collection)
        for i in range(FILES // 4)
    ]
    unrelated = ChatFactory(owner=user)  # not in the project: never deleted here
    return user, project, chat_ids, own, kept, unrelated


def _other_backends(pattern: str) -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND state = 'active' AND query ILIKE %s",
            [pattern],
        )
        return [row[0] for row in cursor.fetchall()]


def _wait_gone(pids: list[int]) -> None:
    """Until PostgreSQL has ended the killed server's sessions (rolling back their work)."""
    deadline = time.monotonic() + WATCH_TIMEOUT
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(%s) "
                "AND datname = current_database()",
                [pids],
            )
            if cursor.fetchone()[0] == 0:
                return
        time.sleep(0.1)
    pytest.fail(f"backends {pids} still alive {WATCH_TIMEOUT}s after the kill")


def _fire(call) -> threading.Thread:
    def run():
        with contextlib.suppress(requests.RequestException):  # the server dies under it
            call()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def _kill_when(condition, process) -> float:
    deadline = time.monotonic() + WATCH_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail("the server ended before it could be killed")
        if condition():
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=10)
            return time.monotonic()
        time.sleep(0.005)
    pytest.fail("the deletion was never seen running")


def _assert_blobs_of_survivors_exist() -> None:
    for name in File.objects.values_list("blob", flat=True):
        assert default_storage.exists(name), f"blob of surviving file removed: {name}"


def test_killed_during_a_single_transaction_deletion_leaves_all_or_nothing():
    user, project, chat_ids, _own, kept, unrelated = _seed()
    before = {
        "chats": Chat.objects.count(),
        "messages": Message.objects.count(),
        "files": File.objects.count(),
        "links": ProjectChat.objects.count(),
    }
    with _server({"DELETION_BATCH_THRESHOLD": "0"}) as (base, process):  # 0: never batched
        # A session made here (the server hashes passwords differently from the tests).
        client = Client()
        client.force_login(user)
        session = requests.Session()
        session.cookies.set("neptun-session", client.cookies["neptun-session"].value)
        assert session.get(f"{base}/api/users/{user.pk}/projects", timeout=10).status_code == 200
        url = f"{base}/api/users/{user.pk}/projects/{project.pk}/chats"
        _fire(lambda: session.delete(url, json={"chat_ids": chat_ids}, timeout=WATCH_TIMEOUT))
        pids: list[int] = []

        def deleting() -> bool:
            pids[:] = _other_backends("DELETE FROM%")
            return bool(pids)

        _kill_when(deleting, process)
    _wait_gone(pids)

    after = {
        "chats": Chat.objects.count(),
        "messages": Message.objects.count(),
        "files": File.objects.count(),
        "links": ProjectChat.objects.count(),
    }
    if after == before:  # none of it
        assert Chat.objects.filter(pk__in=chat_ids).count() == len(chat_ids)
    else:  # all of it (the commit won the race against the kill)
        assert not Chat.objects.filter(pk__in=chat_ids).exists()
        assert not Message.objects.filter(chat_id__in=chat_ids).exists()
        assert after["chats"] == before["chats"] - len(chat_ids)
    assert Chat.objects.filter(pk=unrelated.pk).exists()
    assert File.objects.filter(pk__in=[f.pk for f in kept]).count() == len(kept)
    _assert_blobs_of_survivors_exist()


def test_killed_during_a_batched_purge_leaves_whole_batches():
    user, _project, chat_ids, own, kept, _unrelated = _seed()
    token = AccessToken.generate(user=user)[1]
    with _server({"DELETION_BATCH_THRESHOLD": "1000", "DELETION_BATCH_CHATS": "100"}) as (
        base,
        process,
    ):
        _fire(
            lambda: requests.delete(
                f"{base}/api/chat/conversations/all",
                json={"delete_files_and_collections": False},
                headers={"Authorization": f"Bearer {token}"},
                timeout=WATCH_TIMEOUT,
            )
        )
        pids: list[int] = []
        total = Chat.objects.filter(owner=user).count()

        def some_batches_committed() -> bool:
            pids[:] = _other_backends("%") or pids
            return Chat.objects.filter(owner=user).count() < total

        _kill_when(some_batches_committed, process)
    _wait_gone(pids)

    remaining = Chat.objects.filter(owner=user).count()
    assert 0 <= remaining < total
    # Batches of DELETION_BATCH_CHATS chats, each all or nothing: whole batches went.
    assert remaining == 0 or (total - remaining) % 100 == 0, total - remaining
    # Each chat is whole or gone: never a chat that lost only some of its messages.
    counts = dict(
        Message.objects.filter(chat_id__in=chat_ids).values_list("chat_id").annotate(n=Count("id"))
    )
    surviving = set(Chat.objects.filter(pk__in=chat_ids).values_list("pk", flat=True))
    assert set(counts) == surviving
    assert set(counts.values()) <= {MESSAGES_PER_CHAT}
    assert not Message.objects.exclude(chat_id__in=Chat.objects.values("pk")).exists()
    # Files stay (the flag is false): every one of them, with its blob.
    assert File.objects.filter(owner=user).count() == len(own) + len(kept)
    _assert_blobs_of_survivors_exist()
