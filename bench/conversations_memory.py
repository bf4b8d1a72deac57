"""Peak Python memory of ``DELETE /api/chat/conversations/all`` at growing data sizes.

Run from the repository root::

    .venv/bin/python -m bench.conversations_memory            # SQLite scratch file in /tmp
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/neptun .venv/bin/python -m \
        bench.conversations_memory                            # PostgreSQL

It never touches the configured database: it creates a scratch database next to it
(``<name>_bench``; for SQLite a file in the temporary folder), seeds one user per
run with bulk inserts (conversations of every type, messages, uploaded files with
real blobs, collections), deletes everything through the API view with
``tracemalloc`` tracing, prints one line per run and drops the scratch database.

A small warm-up run goes first and is not reported.

Options: ``--runs CHATS:MESSAGES_PER_CHAT ...`` (default ``2000:5 20000:5 2000:50``:
ten times the conversations, then ten times the messages). It is a measurement,
not a test: it asserts only that the deletion removed what it should.
"""

from __future__ import annotations

import argparse
import gc
import os
import secrets
import shutil
import sys
import tempfile
import time
import tracemalloc
from dataclasses import dataclass
from pathlib import Path


def _configure() -> Path:
    """Environment for a standalone run; returns the scratch media folder."""
    media = Path(tempfile.mkdtemp(prefix="neptun-bench-media-"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "neptun.settings.base")
    os.environ["MEDIA_ROOT"] = str(media)
    if not os.environ.get("SECRET_KEY"):
        os.environ["SECRET_KEY"] = secrets.token_urlsafe(50)
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    import django

    django.setup()
    from django.conf import settings

    settings.DEBUG = False  # no query log growing in memory
    return media


@dataclass
class Run:
    chats: int
    messages_per_chat: int


@dataclass
class Seeded:
    chats: int
    messages: int
    files: int
    collections: int


TYPES = ("regular", "user_files", "global_collection", None)


def seed(run: Run, media: Path, index: int) -> tuple[object, str, Seeded]:
    """A user with ``run.chats`` conversations (types in turn), bulk-inserted."""
    from chats.models import Chat, Message
    from collections_app.models import Collection, File
    from neptun.models import AccessToken, Tenant, User

    user = User.objects.create_user(f"bench{index}@example.com", password=None)
    _, secret = AccessToken.generate(user=user)
    tenant = Tenant.objects.create(name=f"bench-memory-{index}")
    user.tenant = tenant
    user.save(update_fields=["tenant"])
    global_ = Collection.objects.create(
        owner=None, is_global=True, tenant=tenant, name=f"global {index}"
    )
    n_own = sum(1 for i in range(run.chats) if TYPES[i % 4] == "user_files")
    own = Collection.objects.bulk_create(Collection(owner=user, name=f"c{i}") for i in range(n_own))
    own_ids = iter(c.pk for c in own)
    chats = Chat.objects.bulk_create(
        (
            Chat(
                owner=user,
                title=f"chat {i}",
                conversation_type=TYPES[i % 4],
                collection_id=(
                    next(own_ids)
                    if TYPES[i % 4] == "user_files"
                    else global_.pk
                    if TYPES[i % 4] == "global_collection"
                    else None
                ),
            )
            for i in range(run.chats)
        ),
        batch_size=2000,
    )
    chat_ids = [c.pk for c in chats]
    del chats
    batch: list[Message] = []
    for chat_id in chat_ids:
        for j in range(run.messages_per_chat):
            batch.append(Message(chat_id=chat_id, content=f"message {j} " + "x" * 200))
        if len(batch) >= 5000:
            Message.objects.bulk_create(batch)
            batch = []
    Message.objects.bulk_create(batch)
    # One file uploaded in every conversation, one more in every own collection.
    folder = media / f"bench{index}"
    folder.mkdir()
    files = []
    for i, chat_id in enumerate(chat_ids):
        name = f"bench{index}/f{i}.txt"
        (media / name).write_bytes(b"blob")
        files.append(File(owner=user, chat_id=chat_id, name=name, blob=name, size=4))
    for i, collection in enumerate(own):
        name = f"bench{index}/c{i}.txt"
        (media / name).write_bytes(b"blob")
        files.append(File(owner=user, collection=collection, name=name, blob=name, size=4))
    File.objects.bulk_create(files, batch_size=2000)
    seeded = Seeded(
        chats=len(chat_ids),
        messages=len(chat_ids) * run.messages_per_chat,
        files=len(files),
        collections=n_own,
    )
    return user, secret, seeded


def _check(condition: bool, detail: object) -> None:
    if not condition:
        raise RuntimeError(f"the deletion did not do its job: {detail}")


def measure(run: Run, media: Path, index: int) -> dict:
    from django.db import connection
    from rest_framework.test import APIClient

    from chats.models import Chat, Message
    from collections_app.models import File

    user, secret, seeded = seed(run, media, index)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    queries = 0

    def count(execute, sql, params, many, context):
        nonlocal queries
        queries += 1
        return execute(sql, params, many, context)

    gc.collect()
    tracemalloc.start()
    tracemalloc.reset_peak()
    started = time.perf_counter()
    with connection.execute_wrapper(count):
        response = client.generic(
            "DELETE", "/api/chat/conversations/all", "{}", content_type="application/json"
        )
    seconds = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    _check(response.status_code == 200, response.content)
    stats = response.json()["deleted_stats"]
    _check(stats["conversations_deleted"] == seeded.chats, stats)
    _check(stats["files_deleted"] == seeded.files, stats)
    _check(stats["collections_deleted"] == seeded.collections, stats)
    _check(stats["errors"] == [], stats["errors"][:3])
    _check(not Chat.objects.filter(owner=user).exists(), "rows left behind")
    _check(not Message.objects.filter(chat__owner=user).exists(), "rows left behind")
    _check(not File.objects.filter(owner=user).exists(), "rows left behind")
    _check(not any((media / f"bench{index}").iterdir()), "blobs left behind")
    return {
        "seeded": seeded,
        "queries": queries,
        "seconds": seconds,
        "peak": peak,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--runs",
        nargs="+",
        default=["2000:5", "20000:5", "2000:50"],
        help="CHATS:MESSAGES_PER_CHAT for each run",
    )
    args = parser.parse_args(argv)
    runs = [Run(*map(int, spec.split(":"))) for spec in args.runs]

    media = _configure()
    from django.db import connection

    db = connection.settings_dict
    db.setdefault("TEST", {})
    if connection.vendor == "sqlite":
        db["TEST"]["NAME"] = os.path.join(tempfile.gettempdir(), f"neptun-bench-{os.getpid()}.db")
    else:
        db["TEST"]["NAME"] = f"{db['NAME']}_bench"
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    try:
        print(f"database: {connection.vendor} (scratch: {connection.settings_dict['NAME']})")
        header = (
            f"{'conversations':>13} {'messages':>9} {'files':>7} {'collections':>11} "
            f"{'queries':>7} {'seconds':>8} {'peak KiB':>9} {'B/conv':>7}"
        )
        print(header)
        # Warm-up: the first request imports and builds what every later one reuses.
        measure(Run(chats=8, messages_per_chat=1), media, 0)
        for index, run in enumerate(runs, start=1):
            m = measure(run, media, index)
            s = m["seeded"]
            print(
                f"{s.chats:>13} {s.messages:>9} {s.files:>7} {s.collections:>11} "
                f"{m['queries']:>7} {m['seconds']:>8.2f} {m['peak'] / 1024:>9.0f} "
                f"{m['peak'] / s.chats:>7.0f}"
            )
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
        shutil.rmtree(media, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
