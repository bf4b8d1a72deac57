"""Blob removal on S3: ``python -m bench s3 [--blobs 10000] [--files 5000] [--db URL]``.

Against a moto server (a process of its own on 127.0.0.1, so it does not share this
process's interpreter), through django-storages and boto3 exactly as a deployment
with ``AWS_STORAGE_BUCKET_NAME`` uses them:

1. **One call per blob versus batched**: ``--blobs`` objects removed with
   ``default_storage.delete`` one by one (what Neptun did before, and what a
   ``post_delete`` signal does), then as many again with
   :func:`chats.deletion.storage.blobs_remove` (``DeleteObjects``, 1,000 keys a
   request). Requests counted by botocore's own events, wall time of the removal only
   (uploading the objects is not timed).
2. **A conversations delete end to end**: one user with ``--files`` files in their
   chats, deleted with ``DELETE /api/chat/conversations/all`` (Django's test client
   through the whole middleware stack, in this process so that the storage requests
   of the deletion can be counted); wall time of the request, requests by operation,
   and the bucket checked empty afterwards.

The database is a fresh SQLite file by default; ``--db postgres://…/<name with
"bench">`` drops and creates that PostgreSQL database. Figures go to stdout and to
``bench/results/s3-<timestamp>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
HOST = "127.0.0.1"
REGION = "us-east-1"
KEY, SECRET = "bench", "bench-secret"
#: Longest the moto server may take to answer after it starts.
STARTUP_SECONDS = 30
#: Threads that upload the objects (set-up, not measured).
UPLOAD_THREADS = 8


def _log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@contextmanager
def moto_server() -> Iterator[str]:
    """A moto server process on a free loopback port; stopped in any case."""
    port = _free_port()
    process = subprocess.Popen(  # noqa: S603 (our interpreter, fixed arguments)
        [sys.executable, "-m", "moto.server", "-H", HOST, "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://{HOST}:{port}"
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            try:
                with socket.create_connection((HOST, port), timeout=1):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the moto server did not start") from None
                time.sleep(0.2)
        yield endpoint
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def _configure(*, endpoint: str, bucket: str, db: str, media: str) -> None:
    """Environment for ``neptun.settings.base``, then Django."""
    os.environ.update(
        DJANGO_SETTINGS_MODULE="neptun.settings.base",
        SECRET_KEY="bench-only-secret-key-never-used-in-production-0123456789",  # noqa: S106
        DEBUG="0",
        DATABASE_URL=db,
        MEDIA_ROOT=media,
        AWS_STORAGE_BUCKET_NAME=bucket,
        AWS_S3_ENDPOINT_URL=endpoint,
        AWS_ACCESS_KEY_ID=KEY,
        AWS_SECRET_ACCESS_KEY=SECRET,
        AWS_S3_REGION_NAME=REGION,
        STORAGE_NAMESPACE="bench",
        LOG_LEVEL="WARNING",
        UPLOAD_QUOTA_PER_USER="0",
    )
    import django

    django.setup()


class Requests:
    """Every request the storage's S3 client sends, by operation."""

    def __init__(self) -> None:
        self.by_operation: Counter[str] = Counter()

    def __call__(self, *, event_name: str, **_: Any) -> None:
        self.by_operation[event_name.rsplit(".", 1)[-1]] += 1

    def reset(self) -> None:
        self.by_operation.clear()

    @property
    def total(self) -> int:
        return sum(self.by_operation.values())


def _put_all(client: Any, bucket: str, keys: list[str]) -> None:
    def put(key: str) -> None:
        client.put_object(Bucket=bucket, Key=key, Body=b"bench blob")

    with ThreadPoolExecutor(UPLOAD_THREADS) as pool:
        list(pool.map(put, keys))


def _count_objects(client: Any, bucket: str, prefix: str) -> int:
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return sum(len(page.get("Contents", ())) for page in pages)


def bench_removal(*, client: Any, bucket: str, blobs: int, requests: Requests) -> dict[str, Any]:
    from django.core.files.storage import default_storage

    from chats.deletion import storage

    results: dict[str, Any] = {}
    for way in ("one call per blob", "batched"):
        keys = [f"bench/uploads/removal/{way[0]}/{i:06d}.txt" for i in range(blobs)]
        _log(f"removal, {way}: uploading {blobs} objects")
        _put_all(client, bucket, keys)
        requests.reset()
        started = time.perf_counter()
        if way == "batched":
            failed = storage.blobs_remove(names=keys)
        else:
            failed = {}
            for key in keys:
                default_storage.delete(key)
        wall = time.perf_counter() - started
        left = _count_objects(client, bucket, f"bench/uploads/removal/{way[0]}/")
        results[way] = {
            "blobs": blobs,
            "requests": requests.total,
            "by_operation": dict(requests.by_operation),
            "wall_s": round(wall, 3),
            "failed": len(failed),
            "left_in_bucket": left,
        }
        _log(f"removal, {way}: {requests.total} requests, {wall:.2f} s, {left} left")
    return results


def bench_conversations_delete(
    *, client: Any, bucket: str, files: int, requests: Requests
) -> dict[str, Any]:
    from django.core.management import call_command
    from rest_framework.test import APIClient

    from chats.models import Chat, ConversationType
    from collections_app.models import File
    from neptun.models import AccessToken, Tenant, User
    from neptun.uploads import upload_root

    call_command("migrate", verbosity=0)
    tenant = Tenant.objects.create(name=f"bench-{uuid.uuid4().hex[:8]}")
    user = User.objects.create_user(email=f"{uuid.uuid4().hex[:8]}@bench.invalid", tenant=tenant)
    chats = Chat.objects.bulk_create(
        [
            Chat(owner=user, title=f"chat {i}", conversation_type=ConversationType.USER_FILES)
            for i in range(max(1, files // 50))
        ]
    )
    root = f"{upload_root()}/{user.pk}/bench"
    rows = [
        File(owner=user, chat=chats[i % len(chats)], name=f"f{i}.txt", blob=f"{root}/{i:06d}.txt")
        for i in range(files)
    ]
    File.objects.bulk_create(rows, batch_size=1000)
    _log(f"conversations delete: uploading {files} objects")
    _put_all(client, bucket, [row.blob.name for row in rows])
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.generate(user=user)[1]}")
    requests.reset()
    started = time.perf_counter()
    response = api.generic(
        "DELETE",
        "/api/chat/conversations/all",
        json.dumps({"delete_files_and_collections": True}),
        content_type="application/json",
    )
    wall = time.perf_counter() - started
    left = _count_objects(client, bucket, root + "/")
    result = {
        "files": files,
        "chats": len(chats),
        "status": response.status_code,
        "files_deleted": response.json().get("deleted_stats", {}).get("files_deleted"),
        "requests": requests.total,
        "by_operation": dict(requests.by_operation),
        "wall_s": round(wall, 3),
        "left_in_bucket": left,
    }
    _log(f"conversations delete: {requests.total} requests, {wall:.2f} s, {left} left")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench s3", description=__doc__.split("\n")[0])
    parser.add_argument("--blobs", type=int, default=10_000)
    parser.add_argument("--files", type=int, default=5_000)
    parser.add_argument("--db", default="", help="PostgreSQL URL (name with 'bench'); SQLite")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="neptun-bench-s3-") as tmp, moto_server() as endpoint:
        db = args.db or f"sqlite:///{Path(tmp) / 'bench.sqlite3'}"
        if args.db:
            from bench.run import recreate_database

            recreate_database(args.db)
        bucket = f"neptun-bench-{uuid.uuid4().hex[:8]}"
        _configure(endpoint=endpoint, bucket=bucket, db=db, media=str(Path(tmp) / "media"))
        import boto3
        from django.core.files.storage import default_storage

        client = boto3.client(
            "s3",
            endpoint_url=endpoint,
            aws_access_key_id=KEY,
            aws_secret_access_key=SECRET,
            region_name=REGION,
        )
        client.create_bucket(Bucket=bucket)
        requests = Requests()
        default_storage.connection.meta.client.meta.events.register("before-send.s3", requests)
        report = {
            "when": datetime.now(UTC).isoformat(timespec="seconds"),
            "database": "postgresql" if args.db else "sqlite",
            "removal": bench_removal(
                client=client, bucket=bucket, blobs=args.blobs, requests=requests
            ),
            "conversations_delete": bench_conversations_delete(
                client=client, bucket=bucket, files=args.files, requests=requests
            ),
        }
    out = args.out or RESULTS / f"s3-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    _log(f"written to {out}")
    return 0
