"""Load test: 20 concurrent clients mixing reads, creates and deletes in all three dialects.

``python -m bench.load [--requests 2000] [--clients 20] [--url http://127.0.0.1:PORT]``

Each client is one user and speaks the three dialects in a fixed, seeded mix:
Neptun (cookie session) lists, creates, links and deletes chats and batch-deletes
project chats; v1 (``X-API-Key``) lists, creates and deletes chats; conversations
(Bearer token) lists, creates and deletes the user's untyped ("null")
conversations with ``DELETE /api/chat/conversations/all``. Every request is valid,
so every answer must be the documented success status: anything else is an error.

It sends exactly ``--requests`` requests (plus one login per client, reported
apart) and stops. Without ``--url`` it starts its own server (daphne on
127.0.0.1, normal settings, ``DEBUG=0``) on a dedicated database
(``--db``, default ``neptun_bench_load``, dropped and created); with ``--url`` the
server must be on 127.0.0.1 and ``--db`` must be its database (the users, keys and
tokens are seeded there directly), and it must allow ``--clients`` logins a minute
from one address (``LOGIN_THROTTLE_RATE``; the script's own server sets 1000/min).
No other host is ever contacted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/neptun_bench_load"
RESULTS = Path(__file__).resolve().parent / "results"

#: (operation, weight) — about 40 % reads, 35 % creates, 25 % deletes.
MIX = [
    ("neptun GET chats", 10),
    ("neptun POST chat", 8),
    ("neptun DELETE chat", 5),
    ("neptun DELETE project chats", 3),
    ("v1 GET chats", 10),
    ("v1 POST chat", 8),
    ("v1 DELETE chat", 5),
    ("conversations GET", 10),
    ("conversations POST", 9),
    ("conversations DELETE all", 3),
]

#: Endpoint label → the one status a valid request must get.
EXPECTED = {
    "neptun POST login": 200,
    "neptun GET chats": 200,
    "neptun POST chat": 201,
    "neptun POST project chat": 201,
    "neptun DELETE chat": 200,
    "neptun DELETE project chats": 200,
    "v1 GET chats": 200,
    "v1 POST chat": 201,
    "v1 DELETE chat": 200,
    "conversations GET": 200,
    "conversations POST": 201,
    "conversations DELETE all": 200,
}

ONLY_NULL = {
    "delete_files_and_collections": False,
    "delete_regular_chats": False,
    "delete_user_file_conversations": False,
    "delete_global_collection_conversations": False,
    "delete_null_conversations": True,
}


@dataclass
class Identity:
    user_id: int
    email: str
    token: str
    project_id: int


@dataclass
class Sample:
    label: str
    status: int
    seconds: float
    error: str = ""
    ended: float = field(default_factory=time.perf_counter)


@dataclass
class ClientState:
    ident: Identity
    neptun_chats: list[int] = field(default_factory=list)
    project_chats: list[int] = field(default_factory=list)
    v1_chats: list[str] = field(default_factory=list)
    null_conversations: int = 0


def _loopback_only(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme != "http" or parts.hostname != "127.0.0.1":
        raise SystemExit(f"refusing {url!r}: the load test targets only http://127.0.0.1")
    return url.rstrip("/")


# ---------------------------------------------------------------------- seeding


def seed(n_clients: int) -> tuple[str, list[Identity]]:
    """A tenant with a key, and per client a user with a token, a project and chats."""
    from django.contrib.auth.hashers import make_password

    from bench.data import BENCH_PASSWORD, Generator
    from neptun.models import AccessToken, ApiKey, Tenant, User

    tenant = Tenant.objects.get_or_create(name="load")[0]
    _, key = ApiKey.generate(tenant=tenant, name="load")
    password = make_password(BENCH_PASSWORD)
    gen = Generator("neptun", tenant=tenant)
    stamp = int(time.time())
    identities = []
    for i in range(n_clients):
        user = User.objects.create(
            email=f"load-{stamp}-{i}@bench.neptun", password=password, tenant=tenant
        )
        _, token = AccessToken.generate(user=user, name="load")
        chat_ids = gen.chats(user, 20)
        gen.messages(chat_ids, 20)
        project_id = gen.project(user, chat_ids[:5])
        identities.append(Identity(user.pk, user.email, token, project_id))
    return key, identities


# ---------------------------------------------------------------------- clients


async def _send(client, samples: list[Sample], label: str, method: str, url: str, **kw):
    started = time.perf_counter()
    try:
        response = await client.request(method, url, **kw)
    except Exception as exc:
        samples.append(Sample(label, 0, time.perf_counter() - started, type(exc).__name__))
        return None
    elapsed = time.perf_counter() - started
    error = "" if response.status_code == EXPECTED[label] else response.text[:200]
    samples.append(Sample(label, response.status_code, elapsed, error))
    return response if not error else None


async def run_client(
    base: str,
    api_key: str,
    state: ClientState,
    n: int,
    seed_: int,
    samples: list[Sample],
    barrier: asyncio.Barrier,
) -> None:
    import httpx

    from bench.data import BENCH_PASSWORD

    rng = random.Random(seed_)  # noqa: S311 (a reproducible request mix, not a secret)
    ops, weights = zip(*MIX, strict=True)
    uid = state.ident.user_id
    pid = state.ident.project_id
    v1 = {"X-API-Key": api_key}
    bearer = {"Authorization": f"Bearer {state.ident.token}"}
    async with httpx.AsyncClient(base_url=base, trust_env=False, timeout=120) as client:
        await _send(
            client,
            samples,
            "neptun POST login",
            "POST",
            "/api/auth/login",
            json={"email": state.ident.email, "password": BENCH_PASSWORD},
        )
        await barrier.wait()  # the timed mix starts once every client has logged in
        sent = 0
        while sent < n:
            op = rng.choices(ops, weights)[0]
            # A delete with nothing of ours to delete becomes the matching create.
            if op == "neptun DELETE chat" and not state.neptun_chats:
                op = "neptun POST chat"
            if op == "neptun DELETE project chats" and len(state.project_chats) < 2:
                op = "neptun POST chat"
            if op == "v1 DELETE chat" and not state.v1_chats:
                op = "v1 POST chat"
            if op == "conversations DELETE all" and not state.null_conversations:
                op = "conversations POST"
            sent += 1
            if op == "neptun GET chats":
                await _send(client, samples, op, "GET", f"/api/users/{uid}/chats?limit=20")
            elif op == "neptun POST chat":
                r = await _send(
                    client, samples, op, "POST", f"/api/users/{uid}/chats", json={"title": "load"}
                )
                if r is None:
                    continue
                chat_id = r.json()["id"]
                if rng.random() < 0.5 and sent < n:
                    sent += 1
                    linked = await _send(
                        client,
                        samples,
                        "neptun POST project chat",
                        "POST",
                        f"/api/users/{uid}/projects/{pid}/chats",
                        json={"chat_id": chat_id},
                    )
                    if linked is not None:
                        state.project_chats.append(chat_id)
                        continue
                state.neptun_chats.append(chat_id)
            elif op == "neptun DELETE chat":
                chat_id = state.neptun_chats.pop(rng.randrange(len(state.neptun_chats)))
                await _send(client, samples, op, "DELETE", f"/api/users/{uid}/chats/{chat_id}")
            elif op == "neptun DELETE project chats":
                ids, state.project_chats = state.project_chats, []
                await _send(
                    client,
                    samples,
                    op,
                    "DELETE",
                    f"/api/users/{uid}/projects/{pid}/chats",
                    json={"chat_ids": ids},
                )
            elif op == "v1 GET chats":
                await _send(client, samples, op, "GET", "/api/v1/chats?limit=20", headers=v1)
            elif op == "v1 POST chat":
                r = await _send(
                    client,
                    samples,
                    op,
                    "POST",
                    "/api/v1/chats",
                    headers=v1,
                    json={"user": uid, "title": "load v1"},
                )
                if r is not None:
                    state.v1_chats.append(r.json()["id"])
            elif op == "v1 DELETE chat":
                uuid = state.v1_chats.pop(rng.randrange(len(state.v1_chats)))
                await _send(client, samples, op, "DELETE", f"/api/v1/chats/{uuid}", headers=v1)
            elif op == "conversations GET":
                await _send(client, samples, op, "GET", "/api/chat/conversations", headers=bearer)
            elif op == "conversations POST":
                r = await _send(
                    client,
                    samples,
                    op,
                    "POST",
                    "/api/chat/conversations",
                    headers=bearer,
                    json={"title": "load conversation", "conversation_type": None},
                )
                if r is not None:
                    state.null_conversations += 1
            elif op == "conversations DELETE all":
                await _send(
                    client,
                    samples,
                    op,
                    "DELETE",
                    "/api/chat/conversations/all",
                    headers=bearer,
                    json=ONLY_NULL,
                )
                state.null_conversations = 0


# ---------------------------------------------------------------------- report


def _pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, max(0, round(q * (len(values) - 1))))]


def report(samples: list[Sample], wall: float) -> dict[str, Any]:
    by_label: dict[str, list[Sample]] = defaultdict(list)
    for s in samples:
        by_label[s.label].append(s)
    rows = []
    for label in sorted(by_label):
        group = by_label[label]
        times = [s.seconds for s in group]
        rows.append(
            {
                "endpoint": label,
                "requests": len(group),
                "per_s": None if label == "neptun POST login" else len(group) / wall,
                "p50_ms": _pct(times, 0.50) * 1000,
                "p99_ms": _pct(times, 0.99) * 1000,
                "mean_ms": statistics.fmean(times) * 1000,
                "errors": sum(1 for s in group if s.error),
                "error_samples": sorted({f"{s.status} {s.error}" for s in group if s.error})[:3],
            }
        )
    main = [s for s in samples if s.label != "neptun POST login"]
    times = [s.seconds for s in main]
    total = {
        "requests": len(main),
        "wall_s": wall,
        "per_s": len(main) / wall,
        "p50_ms": _pct(times, 0.5) * 1000 if times else None,
        "p99_ms": _pct(times, 0.99) * 1000 if times else None,
        "errors": sum(1 for s in samples if s.error),
    }
    return {"endpoints": rows, "total": total}


def print_report(data: dict[str, Any]) -> None:
    head = (
        f"{'endpoint':<30} {'requests':>8} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6}"
    )
    print(head)
    print("-" * len(head))
    for r in data["endpoints"]:
        per_s = "-" if r["per_s"] is None else f"{r['per_s']:.1f}"
        print(
            f"{r['endpoint']:<30} {r['requests']:>8} {per_s:>8} {r['p50_ms']:>8.1f} "
            f"{r['p99_ms']:>8.1f} {r['errors']:>6}"
        )
        for sample in r["error_samples"]:
            print(f"    ! {sample}")
    t = data["total"]
    print("-" * len(head))
    print(
        f"{'total (without logins)':<30} {t['requests']:>8} {t['per_s']:>8.1f} "
        f"{t['p50_ms']:>8.1f} {t['p99_ms']:>8.1f} {t['errors']:>6}"
    )
    print(
        f"wall of the mix (after all logins) {t['wall_s']:.1f} s; "
        f"errors (logins included): {t['errors']}"
    )


# ---------------------------------------------------------------------- main


async def _drive(base: str, key: str, idents: list[Identity], n: int, seed_: int) -> list[Sample]:
    samples: list[Sample] = []
    per_client = [n // len(idents) + (1 if i < n % len(idents) else 0) for i in range(len(idents))]
    barrier = asyncio.Barrier(len(idents))
    await asyncio.gather(
        *(
            run_client(base, key, ClientState(ident), count, seed_ + i, samples, barrier)
            for i, (ident, count) in enumerate(zip(idents, per_client, strict=True))
        )
    )
    return samples


def mix_wall(samples: list[Sample]) -> float:
    """From the last login (every client waits for it) to the last answer."""
    logins = [s.ended for s in samples if s.label == "neptun POST login"]
    return max(s.ended for s in samples) - max(logins)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.load", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--url", help="a running server on http://127.0.0.1:PORT (else: own)")
    parser.add_argument("--db", default=os.environ.get("BENCH_LOAD_DATABASE_URL", DEFAULT_DB))
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    if args.url:
        _loopback_only(args.url)
    if args.requests < 1 or args.clients < 1:
        parser.error("--requests and --clients must be positive")

    from bench.run import recreate_database, setup_django
    from bench.server import LiveServer

    media = tempfile.mkdtemp(prefix="neptun-load-media-")
    env = {
        "DJANGO_SETTINGS_MODULE": "neptun.settings.base",
        "DATABASE_URL": args.db,
        "DEBUG": "0",
        "SECRET_KEY": os.environ.get("SECRET_KEY", "load-test-only-secret-0123456789abcdef"),
        "ALLOWED_HOSTS": "127.0.0.1",
        "MEDIA_ROOT": media,
        "LOG_LEVEL": "WARNING",
        # All clients log in from 127.0.0.1: the per-address login throttle
        # (10/min by default) would refuse half of them.
        "LOGIN_THROTTLE_RATE": "1000/min",
    }
    if not args.url:
        recreate_database(args.db)
    setup_django(env)
    from django.core.management import call_command

    if not args.url:
        call_command("migrate", verbosity=0)
    key, idents = seed(args.clients)
    print(
        f"seeded {len(idents)} users; {args.requests} requests over {args.clients} clients",
        file=sys.stderr,
    )

    def drive(base: str) -> tuple[list[Sample], float]:
        samples = asyncio.run(_drive(base, key, idents, args.requests, args.seed))
        return samples, mix_wall(samples)

    if args.url:
        samples, wall = drive(_loopback_only(args.url))
    else:
        with LiveServer(env) as server:
            samples, wall = drive(server.url)
    data = report(samples, wall)
    print_report(data)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"load-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    out.write_text(
        json.dumps({"requests": args.requests, "clients": args.clients, **data}, indent=2)
    )
    print(f"results: {out}")
    return 0 if data["total"]["errors"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
