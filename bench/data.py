"""Bench data: a background of other users' data and one target per path.

Rows go in fast: the big table (messages) with ``COPY … FROM STDIN`` on PostgreSQL
(``executemany`` in batches elsewhere), the others with ``bulk_create`` in batches.
Blobs are real (small) files under ``MEDIA_ROOT``, so deleting them costs what it
costs.

The same generator fills Neptun's tables (``schema="neptun"``) or the stock-Django
mirror (``schema="stock"``, installed by ``bench.settings`` only), so the three ways
of deleting run on identical data.

Sizes are those of issue 7 at ``large`` (factor 1); ``small`` is a tenth of each,
``quick`` a hundredth (a smoke run); ``xl`` (issue 16, for p3) five times the
targets on the large background, ``mid`` a quarter of them on it.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from pathlib import Path
from typing import Any

from django.apps import apps
from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.db import connection, transaction
from django.utils import timezone

BENCH_PASSWORD = "bench-password-0123456789"  # noqa: S105 (bench users on a local database)
BATCH = 2000

MODELS = {
    "neptun": {
        "user": "neptun.User",
        "chat": "chats.Chat",
        "message": "chats.Message",
        "connection": "chats.ChatConnection",
        "project": "projects.Project",
        "link": "projects.ProjectChat",
        "collection": "collections_app.Collection",
        "file": "collections_app.File",
    },
    "stock": {
        "user": "stock.StockUser",
        "chat": "stock.StockChat",
        "message": "stock.StockMessage",
        "connection": "stock.StockChatConnection",
        "project": "stock.StockProject",
        "link": "stock.StockProjectChat",
        "collection": "stock.StockCollection",
        "file": "stock.StockFile",
    },
}

#: Kinds whose rows a deletion removes (the users are never deleted by the paths).
KINDS = ("chat", "message", "connection", "link", "project", "collection", "file")

CONTENTS = [
    ("Explain the difference between a database-level cascade and Django's collector. " * 3)[
        : 180 + 17 * i
    ]
    for i in range(8)
]
ROLES = ("user", "assistant")


@dataclass(frozen=True)
class Scale:
    name: str
    factor: float
    #: The background's factor, when it differs from the targets' (``xl``).
    background: float | None = None

    def n(self, large: int, minimum: int = 1) -> int:
        return max(minimum, round(large * self.factor))

    def n_background(self, large: int, minimum: int = 1) -> int:
        factor = self.factor if self.background is None else self.background
        return max(minimum, round(large * factor))


SCALES = {
    # p3 at 10,000 conversations and 1,000,000 messages (over the default 500,000
    # messages of DELETION_BATCH_THRESHOLD, so it runs batched), on the large background.
    "xl": Scale("xl", 5.0, background=1.0),
    "large": Scale("large", 1.0),
    # The targets at a quarter of large on the large background: p3 at 500
    # conversations and 50,000 messages, the size issue 16's first target names.
    "mid": Scale("mid", 0.25, background=1.0),
    "small": Scale("small", 0.1),
    "quick": Scale("quick", 0.01),
}


@cache
def password_hash() -> str:
    return make_password(BENCH_PASSWORD)


def model(schema: str, kind: str):
    return apps.get_model(MODELS[schema][kind])


def table(schema: str, kind: str) -> str:
    return model(schema, kind)._meta.db_table


def row_counts(schema: str) -> dict[str, int]:
    """Rows per kind in the schema's tables."""
    with connection.cursor() as cursor:
        counts = {}
        for kind in KINDS:
            cursor.execute(f"SELECT COUNT(*) FROM {table(schema, kind)}")  # noqa: S608
            counts[kind] = cursor.fetchone()[0]
    return counts


def vacuum_analyze(schema: str) -> None:
    """Fresh statistics and no dead rows from earlier runs (PostgreSQL only)."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for kind in ("user", *KINDS):
            cursor.execute(f"VACUUM ANALYZE {table(schema, kind)}")


class Generator:
    """Bulk-inserts users, chats, messages, files, collections and projects."""

    def __init__(self, schema: str = "neptun", *, tenant: Any = None) -> None:
        self.schema = schema
        self.tenant = tenant
        self.media_root = Path(settings.MEDIA_ROOT)
        self._seq = itertools.count()
        self._tag = uuid.uuid4().hex[:8]

    def _m(self, kind: str):
        return model(self.schema, kind)

    def _label(self) -> str:
        return f"{self._tag}-{next(self._seq)}"

    # ------------------------------------------------------------------ rows

    def user(self, label: str = "user") -> Any:
        email = f"bench-{label}-{self._label()}@bench.neptun"
        if self.schema == "neptun":
            return self._m("user").objects.create(
                email=email, password=password_hash(), tenant=self.tenant
            )
        return self._m("user").objects.create(email=email)

    def collections(self, owner: Any, n: int, *, is_global: bool = False) -> list[int]:
        # Neptun's global collection belongs to a tenant; the stock schema has none.
        tenant = {"tenant": self.tenant} if is_global and self.schema == "neptun" else {}
        objs = [
            self._m("collection")(
                owner=None if is_global else owner,
                is_global=is_global,
                name=f"collection {self._label()}",
                **tenant,
            )
            for _ in range(n)
        ]
        return [c.pk for c in self._m("collection").objects.bulk_create(objs, batch_size=BATCH)]

    def chats(
        self,
        owner: Any,
        n: int,
        *,
        types: Sequence[str | None] = ("regular",),
        collections: Sequence[int | None] = (None,),
    ) -> list[int]:
        """``n`` chats; types and collection links cycle through the given lists."""
        chat = self._m("chat")
        ids: list[int] = []
        kinds = itertools.cycle(types)
        links = itertools.cycle(collections)
        for start in range(0, n, BATCH):
            objs = [
                chat(
                    owner=owner,
                    title=f"chat {self._label()}",
                    conversation_type=next(kinds),
                    collection_id=next(links),
                )
                for _ in range(min(BATCH, n - start))
            ]
            ids.extend(c.pk for c in chat.objects.bulk_create(objs))
        return ids

    def messages(self, chat_ids: Iterable[int], per_chat: int) -> int:
        """``per_chat`` messages in each chat: COPY on PostgreSQL."""
        tbl = table(self.schema, "message")
        now = timezone.now()
        if connection.vendor == "postgresql":
            stamp = now.isoformat()
            n = 0
            with transaction.atomic(), connection.cursor() as cursor:
                sql = f"COPY {tbl} (chat_id, role, content, created_at) FROM STDIN"
                with cursor.cursor.copy(sql) as copy:
                    lines: list[str] = []
                    for chat_id in chat_ids:
                        for i in range(per_chat):
                            lines.append(f"{chat_id}\t{ROLES[i % 2]}\t{CONTENTS[i % 8]}\t{stamp}\n")
                        if len(lines) >= 50_000:
                            copy.write("".join(lines))
                            n += len(lines)
                            lines.clear()
                    copy.write("".join(lines))
                    n += len(lines)
            return n
        sql = f"INSERT INTO {tbl} (chat_id, role, content, created_at) VALUES (%s, %s, %s, %s)"  # noqa: S608
        rows = [
            (chat_id, ROLES[i % 2], CONTENTS[i % 8], now)
            for chat_id in chat_ids
            for i in range(per_chat)
        ]
        with transaction.atomic(), connection.cursor() as cursor:
            for start in range(0, len(rows), BATCH):
                cursor.executemany(sql, rows[start : start + BATCH])
        return len(rows)

    def files(
        self,
        owner: Any,
        n: int,
        *,
        chats: Sequence[int | None] = (None,),
        collections: Sequence[int | None] = (None,),
    ) -> list[int]:
        """``n`` file rows with a real blob each; chat and collection links cycle."""
        folder = f"bench/{self.schema}/{self._tag}"
        (self.media_root / folder).mkdir(parents=True, exist_ok=True)
        chat_ids = itertools.cycle(chats)
        collection_ids = itertools.cycle(collections)
        objs = []
        for _ in range(n):
            name = f"{folder}/{self._label()}.txt"
            (self.media_root / name).write_bytes(b"bench blob\n")
            objs.append(
                self._m("file")(
                    owner=owner,
                    chat_id=next(chat_ids),
                    collection_id=next(collection_ids),
                    name=name.rsplit("/", 1)[-1],
                    blob=name,
                    size=11,
                    content_type="text/plain",
                )
            )
        return [f.pk for f in self._m("file").objects.bulk_create(objs, batch_size=BATCH)]

    def project(self, owner: Any, chat_ids: Sequence[int]) -> int:
        project = self._m("project").objects.create(owner=owner, name=f"project {self._label()}")
        link = self._m("link")
        link.objects.bulk_create(
            [link(project=project, chat_id=chat_id) for chat_id in chat_ids], batch_size=BATCH
        )
        return project.pk

    def stale_connection(self, chat_id: int) -> None:
        """A presence record whose heartbeat has expired (does not block a v1 delete)."""
        old = timezone.now() - timedelta(days=1)
        self._m("connection").objects.create(
            chat_id=chat_id, connection_id=f"bench-{self._label()}", last_seen_at=old
        )


# ---------------------------------------------------------------------- background


def make_background(
    gen: Generator, scale: Scale, *, messages_per_chat: int = 400
) -> dict[str, Any]:
    """Other users' data that every deletion must leave alone.

    Large: 40 users x 50 chats x 400 messages (800,000 messages), each user with 2
    collections, 20 files and a project linking 10 chats; plus a global collection.
    """
    owner0 = gen.user("global-admin")
    (global_collection,) = gen.collections(None, 1, is_global=True)
    gen.files(owner0, 10, collections=[global_collection])
    for _ in range(scale.n_background(40, minimum=2)):
        owner = gen.user("background")
        cols = gen.collections(owner, 2)
        chat_ids = gen.chats(
            owner,
            50,
            types=("regular", "user_files", "global_collection", None),
            collections=(None, cols[0], global_collection, None),
        )
        gen.messages(chat_ids, messages_per_chat)
        gen.files(owner, 10, chats=chat_ids)
        gen.files(owner, 10, collections=cols)
        gen.project(owner, chat_ids[:10])
    return {"global_collection": global_collection}


# ---------------------------------------------------------------------- targets


def make_path1(gen: Generator, scale: Scale, bg: dict[str, Any]) -> dict[str, Any]:
    """One chat with 10,000 messages and 50 files (plus a project link, a stale socket)."""
    owner = gen.user("p1")
    (chat_id,) = gen.chats(owner, 1)
    gen.messages([chat_id], scale.n(10_000))
    gen.files(owner, scale.n(50), chats=[chat_id])
    gen.project(owner, [chat_id])
    gen.stale_connection(chat_id)
    chat = model(gen.schema, "chat").objects.get(pk=chat_id)
    return {"owner_id": owner.pk, "email": owner.email, "chat_id": chat_id, "uuid": str(chat.uuid)}


def make_path2(gen: Generator, scale: Scale, bg: dict[str, Any]) -> dict[str, Any]:
    """1,000 chats of a project, 100 messages each."""
    owner = gen.user("p2")
    chat_ids = gen.chats(owner, scale.n(1_000))
    gen.messages(chat_ids, 100)
    project_id = gen.project(owner, chat_ids)
    return {
        "owner_id": owner.pk,
        "email": owner.email,
        "project_id": project_id,
        "chat_ids": chat_ids,
    }


def make_path3(gen: Generator, scale: Scale, bg: dict[str, Any]) -> dict[str, Any]:
    """A user with 2,000 conversations (all four types), 200,000 messages, 1,000
    files (half uploaded in chats, half in collections) and 200 collections."""
    owner = gen.user("p3")
    cols = gen.collections(owner, scale.n(200))
    types = ("regular", "user_files", "regular", "global_collection", None, "user_files")
    n_chats = scale.n(2_000)
    links: list[int | None] = []
    user_files = itertools.cycle(cols)
    for i in range(n_chats):
        kind = types[i % len(types)]
        if kind == "user_files":
            links.append(next(user_files))
        elif kind == "global_collection":
            links.append(bg["global_collection"])
        else:
            links.append(None)
    chat_model = model(gen.schema, "chat")
    chat_ids: list[int] = []
    for start in range(0, n_chats, BATCH):
        objs = [
            chat_model(
                owner=owner,
                title=f"chat {gen._label()}",
                conversation_type=types[i % len(types)],
                collection_id=links[i],
            )
            for i in range(start, min(n_chats, start + BATCH))
        ]
        chat_ids.extend(c.pk for c in chat_model.objects.bulk_create(objs))
    gen.messages(chat_ids, 100)
    n_files = scale.n(1_000)
    gen.files(owner, n_files // 2, chats=chat_ids)
    gen.files(owner, n_files - n_files // 2, collections=cols)
    return {"owner_id": owner.pk, "email": owner.email}


def make_path4(gen: Generator, scale: Scale, bg: dict[str, Any]) -> dict[str, Any]:
    """10,000 chats (10 messages each) selected in the admin."""
    owner = gen.user("p4")
    chat_ids = gen.chats(owner, scale.n(10_000))
    gen.messages(chat_ids, 10)
    return {"owner_id": owner.pk, "email": owner.email}


def make_path5(gen: Generator, scale: Scale, bg: dict[str, Any]) -> dict[str, Any]:
    """100,000 orphans older than the sweep's 24 h grace period: 50,000 stale
    live-connection records (on 100 chats) and 50,000 empty user-owned collections."""
    owner = gen.user("p5")
    chat_ids = gen.chats(owner, 100)
    old = timezone.now() - timedelta(days=2)
    connection_model = model(gen.schema, "connection")
    n = scale.n(50_000)
    connection_model.objects.bulk_create(
        (
            connection_model(
                chat_id=chat_ids[i % len(chat_ids)],
                connection_id=f"bench-orphan-{gen._label()}",
                opened_at=old,
                last_seen_at=old,
            )
            for i in range(n)
        ),
        batch_size=BATCH,
    )
    collection_model = model(gen.schema, "collection")
    collection_model.objects.bulk_create(
        (
            collection_model(owner=owner, name=f"empty {gen._label()}", created_at=old)
            for _ in range(scale.n(50_000))
        ),
        batch_size=BATCH,
    )
    return {"owner_id": owner.pk, "email": owner.email}


TARGETS = {
    "p1": make_path1,
    "p2": make_path2,
    "p3": make_path3,
    "p4": make_path4,
    "p5": make_path5,
}
