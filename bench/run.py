"""The deletion benchmark of issue 7: ``python -m bench [--scale small,mid,large,xl] [--quick]``.

For each scale it loads a background of other users' data, then for each path and
each way of deleting (Neptun, raw SQL, stock Django) it generates the target on
identical data, deletes it through a live server on 127.0.0.1 and records wall
time, SQL queries, peak Python memory of the server process and rows deleted.
Each deletion runs twice on identical targets: once timed (no tracing), once with
tracemalloc on in the server for the memory peak (tracing slows Python down, so
its times are kept apart as ``traced_wall_s``).
A table goes to stdout and the figures to ``bench/results/<timestamp>.json``.

Everything runs on a dedicated PostgreSQL database (``BENCH_DATABASE_URL``,
default ``postgres://postgres@127.0.0.1:5432/neptun_bench``), dropped and created
by the harness: never point it at a database you care about.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/neptun_bench"
RESULTS = Path(__file__).resolve().parent / "results"
METHODS = ("neptun", "raw", "stock", "direct")
PATHS = ("p1", "p2", "p3", "p4", "p5")
STEPS = {"p1": ("p1",), "p2": ("p2",), "p3": ("p3",), "p4": ("p4-confirm", "p4"), "p5": ("p5",)}
HTTP_PATHS = {
    "p1": "v1 DELETE /api/v1/chats/{uuid}",
    "p2": "Neptun DELETE /api/users/{id}/projects/{pid}/chats",
    "p3": "DELETE /api/chat/conversations/all",
    "p4-confirm": "admin POST /admin/chats/chat/?owner= (delete_selected, select_across)",
    "p4": "admin POST /admin/chats/chat/?owner= (confirmed)",
}
#: Steps that must delete something (an HTTP answer that deleted nothing falls back).
CONFIRM_STEPS = {"p4-confirm"}


def _log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------- database


def recreate_database(url: str) -> None:
    """Drop and create the bench database (its name must contain "bench")."""
    import psycopg
    from psycopg import sql

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if "bench" not in name:
        raise SystemExit(f"refusing to drop {name!r}: the bench database's name must say bench")
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def setup_django(env: dict[str, str]) -> None:
    os.environ.update(env)
    import django

    django.setup()


def truncate_all() -> None:
    from django.db import connection

    from bench.data import KINDS, table

    tables = [table(s, k) for s in ("neptun", "stock") for k in (*KINDS, "user")]
    tables += ["neptun_deletionrecord", "neptun_accesstoken", "django_session"]
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")


# ---------------------------------------------------------------------- measuring


class Bench:
    def __init__(self, client, api_key: str) -> None:
        self.client = client
        self.api_key = api_key
        self.trace = False

    def _measure(self, method: str, url: str, **kwargs) -> tuple[Any, float, dict[str, Any]]:
        headers = {**kwargs.pop("headers", {}), "X-Bench-Measure": "1"}
        if self.trace:
            headers["X-Bench-Trace"] = "1"
        started = time.perf_counter()
        response = self.client.request(method, url, headers=headers, **kwargs)
        wall = time.perf_counter() - started
        stats = json.loads(response.headers.get("X-Bench-Stats", "{}"))
        return response, wall, stats

    def op(self, op: str, step: str, params: dict[str, Any]) -> tuple[float, dict[str, Any]]:
        response, wall, stats = self._measure(
            "POST", "/__bench__/run", json={"op": op, "path": step, "params": params}
        )
        if response.status_code != 200:
            raise RuntimeError(f"{op} {step}: {response.status_code} {response.text[:500]}")
        stats["response"] = response.json()["result"]
        return wall, stats

    def _admin_login(self) -> str | None:
        """Log the admin in (not measured); the CSRF token for the next form post."""
        email, password = _admin_user()
        self.client.cookies.clear()
        self.client.get("/admin/login/")
        token = self.client.cookies.get("csrftoken")
        if not token:
            return None
        response = self.client.post(
            "/admin/login/?next=/admin/",
            data={"username": email, "password": password, "csrfmiddlewaretoken": token},
            headers={"Referer": f"{self.client.base_url}/admin/login/"},
        )
        if response.status_code != 302:
            return None
        return self.client.cookies.get("csrftoken") or token

    def http(self, step: str, target: dict[str, Any]) -> tuple[float, dict[str, Any]] | None:
        """The real endpoint of paths 1-3; ``None`` when it is not (yet) there."""
        from neptun.models import AccessToken

        if step == "p1":
            response, wall, stats = self._measure(
                "DELETE", f"/api/v1/chats/{target['uuid']}", headers={"X-API-Key": self.api_key}
            )
        elif step == "p2":
            self.client.cookies.clear()
            login = self.client.post(
                "/api/auth/login",
                json={"email": target["email"], "password": _password()},
            )
            if login.status_code != 200:
                return None
            response, wall, stats = self._measure(
                "DELETE",
                f"/api/users/{target['owner_id']}/projects/{target['project_id']}/chats",
                json={"chat_ids": target["chat_ids"]},
            )
            self.client.cookies.clear()
        elif step == "p3":
            from neptun.models import User

            _, secret = AccessToken.generate(user=User.objects.get(pk=target["owner_id"]))
            response, wall, stats = self._measure(
                "DELETE",
                "/api/chat/conversations/all",
                headers={"Authorization": f"Bearer {secret}"},
                json={
                    "delete_files_and_collections": True,
                    "delete_regular_chats": True,
                    "delete_user_file_conversations": True,
                    "delete_global_collection_conversations": True,
                    "delete_null_conversations": True,
                },
            )
        elif step in ("p4-confirm", "p4"):
            csrf = self._admin_login()
            if csrf is None:
                return None
            from chats.models import Chat

            # Django's changelist needs one ticked row; select_across widens the
            # action to every chat the filter (?owner=) selects, as "select all" does.
            first = Chat.objects.filter(owner_id=target["owner_id"]).values_list("id", flat=True)
            data = {
                "csrfmiddlewaretoken": csrf,
                "action": "delete_selected",
                "select_across": "1",
                "index": "0",
                "_selected_action": str(first.first()),
            }
            if step == "p4":
                data["_neptun_confirm"] = "1"
            response, wall, stats = self._measure(
                "POST",
                f"/admin/chats/chat/?owner={target['owner_id']}",
                data=data,
                headers={"Referer": f"{self.client.base_url}/admin/chats/chat/"},
            )
            self.client.cookies.clear()
            expected = 200 if step == "p4-confirm" else 302
            if response.status_code != expected:
                _log(f"  {step} over HTTP answered {response.status_code}: {response.text[:300]}")
                return None
            stats["response"] = {"status": response.status_code, "bytes": len(response.content)}
            return wall, stats
        else:
            return None
        if response.status_code != 200:
            _log(f"  {step} over HTTP answered {response.status_code}: {response.text[:300]}")
            return None
        stats["response"] = response.json()
        return wall, stats


def _admin_user() -> tuple[str, str]:
    """A superuser for the admin paths (created once)."""
    from bench.data import BENCH_PASSWORD, password_hash
    from neptun.models import User

    email = "bench-admin@bench.neptun"
    User.objects.update_or_create(
        email=email,
        defaults={"password": password_hash(), "is_staff": True, "is_superuser": True},
    )
    return email, BENCH_PASSWORD


def _password() -> str:
    from bench.data import BENCH_PASSWORD

    return BENCH_PASSWORD


def run_step(
    bench: Bench, method: str, step: str, target: dict[str, Any], schema: str
) -> dict[str, Any]:
    from bench.data import row_counts

    before = row_counts(schema)
    via = "bench endpoint"
    measured = None
    if method.startswith("direct:"):
        from bench import direct

        form = method.split(":", 1)[1]
        params = {k: v for k, v in target.items() if k != "email"}
        measured = direct.run(form, step, params)
        via = f"direct SQL, {form} form (harness connection, no HTTP)"
    if method == "neptun" and step in HTTP_PATHS:
        measured = bench.http(step, target)
        via = f"HTTP {HTTP_PATHS[step]}"
        if measured is not None and step not in CONFIRM_STEPS and row_counts(schema) == before:
            _log(f"  {step} over HTTP deleted nothing: measured through the service instead")
            measured = None
        if measured is None:
            if row_counts(schema) != before:
                raise RuntimeError(f"{step}: the failed HTTP call deleted something")
            via = "service (HTTP endpoint not available)"
    if measured is None:
        params = {k: v for k, v in target.items() if k != "email"}
        measured = bench.op(method, step, params)
        if method == "neptun" and step not in HTTP_PATHS:
            via = (
                "command: call_command('cleanup_orphans', '--yes') via bench endpoint"
                if step == "p5"
                else "service via bench endpoint"
            )
    wall, stats = measured
    after = row_counts(schema)
    deleted = {kind: before[kind] - after[kind] for kind in before}
    rows = sum(deleted.values())
    return {
        "method": method,
        "via": via,
        "wall_s": wall,
        "server_s": stats.get("server_seconds"),
        "queries": stats.get("queries"),
        "py_peak_bytes": stats.get("py_peak_bytes"),
        "rss_bytes": stats.get("rss_bytes"),
        "deleted": deleted,
        "rows_deleted": rows,
        "rows_per_s": rows / wall if rows and wall else None,
    }


def run_scale(
    bench: Bench,
    scale,
    paths: list[str],
    tenant,
    *,
    methods: tuple[str, ...] = METHODS,
    memory: bool = True,
    repeat: int = 1,
    quiet: bool = False,
) -> list[dict[str, Any]]:
    from bench.data import TARGETS, Generator, make_background, vacuum_analyze
    from bench.direct import forms

    _log(f"scale {scale.name}: truncating and loading the background")
    truncate_all()
    backgrounds = {}
    schemas = ["neptun", "stock"] if "stock" in methods else ["neptun"]
    for schema in schemas:
        started = time.perf_counter()
        backgrounds[schema] = make_background(Generator(schema, tenant=tenant), scale)
        _log(f"  background ({schema}) loaded in {time.perf_counter() - started:.1f} s")
    results = []
    # Timed runs without tracemalloc (methods interleaved, so a change of load on the
    # machine hits all of them), then one traced run per method for the memory peak.
    phases = ["time"] * repeat + (["memory"] if memory else [])
    for path in paths:
        rows: dict[tuple[str, str], dict[str, Any]] = {}
        # ``direct`` runs each of its forms on its own target; the faster is reported.
        variants = [
            variant
            for method in methods
            for variant in (
                [f"direct:{form}" for form in forms(path)] if method == "direct" else [method]
            )
        ]
        for phase in phases:
            bench.trace = phase == "memory"
            for method in variants:
                if phase == "memory" and method.startswith("direct:"):
                    continue  # no server process: nothing to trace
                schema = "stock" if method == "stock" else "neptun"
                gen = Generator(schema, tenant=tenant)
                started = time.perf_counter()
                target = TARGETS[path](gen, scale, backgrounds[schema])
                gen_s = time.perf_counter() - started
                vacuum_analyze(schema)
                for step in STEPS[path]:
                    row = run_step(bench, method, step, target, schema)
                    key = (method, step)
                    if phase == "time" and key not in rows:
                        row.update(scale=scale.name, path=step, gen_s=gen_s, py_peak_bytes=None)
                        row["wall_runs"] = [row["wall_s"]]
                        rows[key] = row
                    elif phase == "time":
                        rows[key]["wall_runs"].append(row["wall_s"])
                    else:
                        rows[key]["py_peak_bytes"] = row["py_peak_bytes"]
                        rows[key]["traced_wall_s"] = row["wall_s"]
                        rows[key]["traced_rows_deleted"] = row["rows_deleted"]
        bench.trace = False
        for row in rows.values():
            row["wall_s"] = statistics.median(row["wall_runs"])
        for method in methods:
            for step in STEPS[path]:
                row = rows[(method, step)] if method != "direct" else _faster_form(rows, step)
                if row["rows_deleted"]:
                    row["rows_per_s"] = row["rows_deleted"] / row["wall_s"]
                results.append(row)
                if quiet:
                    continue
                _log(
                    f"  {scale.name} {step:<10} {method:<6} {row['wall_s']:8.3f} s "
                    f"{row['queries']} q {row['rows_deleted']} rows "
                    f"{_mb(row['py_peak_bytes'])} MB ({row['via']})"
                )
    return results


def fixed_cost(bench: Bench, scale, tenant, *, runs: int) -> dict[str, Any]:
    """What a tiny delete costs beyond a read: a chat of 10 messages, read with an
    authenticated v1 ``GET`` and then deleted with v1 ``DELETE``, each over HTTP with
    the same key, ``runs`` times on fresh chats (on the scale's background); medians.
    """
    from bench.data import Generator

    gen = Generator("neptun", tenant=tenant)
    owner = gen.user("tiny")
    figures: dict[str, dict[str, list[float]]] = {
        verb: {"wall_s": [], "server_s": [], "queries": []} for verb in ("GET", "DELETE")
    }
    headers = {"X-API-Key": bench.api_key}
    for _ in range(runs):
        (chat_id,) = gen.chats(owner, 1)
        gen.messages([chat_id], 10)
        uuid = _chat_uuid(chat_id)
        for verb, expected in (("GET", 200), ("DELETE", 200)):
            response, wall, stats = bench._measure(verb, f"/api/v1/chats/{uuid}", headers=headers)
            if response.status_code != expected:
                raise RuntimeError(f"tiny {verb}: {response.status_code} {response.text[:300]}")
            figures[verb]["wall_s"].append(wall)
            figures[verb]["server_s"].append(stats.get("server_seconds") or 0.0)
            figures[verb]["queries"].append(stats.get("queries") or 0)
    medians = {
        verb: {name: statistics.median(values) for name, values in by_name.items()}
        for verb, by_name in figures.items()
    }
    result = {
        "scale": scale.name,
        "runs": runs,
        "get": {**medians["GET"], "wall_runs": figures["GET"]["wall_s"]},
        "delete": {**medians["DELETE"], "wall_runs": figures["DELETE"]["wall_s"]},
        "delete_over_get": medians["DELETE"]["wall_s"] / medians["GET"]["wall_s"],
    }
    _log(
        f"  {scale.name} tiny delete {medians['DELETE']['wall_s'] * 1000:.1f} ms "
        f"({medians['DELETE']['queries']:.0f} q) vs GET {medians['GET']['wall_s'] * 1000:.1f} ms "
        f"({medians['GET']['queries']:.0f} q): {result['delete_over_get']:.2f}x, median of {runs}"
    )
    return result


def _chat_uuid(chat_id: int) -> str:
    from chats.models import Chat

    return str(Chat.objects.values_list("uuid", flat=True).get(pk=chat_id))


def _faster_form(rows: dict[tuple[str, str], dict[str, Any]], step: str) -> dict[str, Any]:
    """The ``direct`` row of a step: its faster form's, with every form's figures kept."""
    from bench.direct import forms

    found = {
        method.removeprefix("direct:"): row
        for (method, at), row in rows.items()
        if at == step and method.removeprefix("direct:") in forms(step)
    }
    form = min(found, key=lambda name: found[name]["wall_s"])
    row = {**found[form], "method": "direct", "form": form}
    row["forms"] = {
        name: {"wall_s": r["wall_s"], "wall_runs": r["wall_runs"], "queries": r["queries"]}
        for name, r in found.items()
    }
    return row


def warm_up(client, paths: list[str], methods: tuple[str, ...]) -> None:
    """One unrecorded pass at the tiny scale: imports, first connections, caches."""
    from bench.data import SCALES
    from neptun.models import ApiKey, Tenant

    tenant = Tenant.objects.get_or_create(name="bench")[0]
    _, secret = ApiKey.generate(tenant=tenant, name="warm-up")
    _log("warm-up pass (not recorded)")
    bench = Bench(client, secret)
    run_scale(bench, SCALES["quick"], paths, tenant, methods=methods, quiet=True)
    fixed_cost(bench, SCALES["quick"], tenant, runs=3)


# ---------------------------------------------------------------------- reporting


def _mb(n: int | None) -> str:
    return "-" if n is None else f"{n / 1e6:.2f}"


def summarize(results: list[dict[str, Any]]) -> dict[str, Any]:
    by_key = {(r["scale"], r["path"], r["method"]): r for r in results}
    ratios = []
    for scale, path in dict.fromkeys((r["scale"], r["path"]) for r in results):
        n, raw, stock, direct = (by_key.get((scale, path, m)) for m in METHODS)
        if not n:
            continue
        ratios.append(
            {
                "scale": scale,
                "path": path,
                "neptun_over_raw_time": n["wall_s"] / raw["wall_s"] if raw else None,
                "neptun_over_direct_time": n["wall_s"] / direct["wall_s"] if direct else None,
                "direct_form": direct["form"] if direct else None,
                "stock_over_neptun_time": stock["wall_s"] / n["wall_s"] if stock else None,
                "stock_over_neptun_memory": (
                    stock["py_peak_bytes"] / n["py_peak_bytes"]
                    if stock and n["py_peak_bytes"]
                    else None
                ),
                "stock_over_neptun_queries": (
                    stock["queries"] / n["queries"] if stock and n["queries"] else None
                ),
                "same_rows_deleted": (
                    None
                    if not (raw or stock or direct)
                    else all(
                        other["rows_deleted"] == n["rows_deleted"]
                        for other in (raw, stock, direct)
                        if other
                    )
                ),
            }
        )
    memory = []
    for path in dict.fromkeys(r["path"] for r in results):
        small, large = by_key.get(("small", path, "neptun")), by_key.get(("large", path, "neptun"))
        if small and large and small["py_peak_bytes"]:
            memory.append(
                {
                    "path": path,
                    "neptun_peak_small": small["py_peak_bytes"],
                    "neptun_peak_large": large["py_peak_bytes"],
                    "large_over_small": large["py_peak_bytes"] / small["py_peak_bytes"],
                }
            )
    return {"ratios": ratios, "memory_by_scale": memory}


def print_table(results: list[dict[str, Any]], summary: dict[str, Any]) -> None:
    head = (
        f"{'scale':<6} {'path':<10} {'method':<6} {'wall s':>8} {'queries':>8} "
        f"{'peak MB':>8} {'rows':>9} {'rows/s':>10}  via"
    )
    print(head)
    print("-" * len(head))
    for r in results:
        rps = "-" if r["rows_per_s"] is None else f"{r['rows_per_s']:,.0f}"
        print(
            f"{r['scale']:<6} {r['path']:<10} {r['method']:<6} {r['wall_s']:8.3f} "
            f"{r['queries']!s:>8} {_mb(r['py_peak_bytes']):>8} {r['rows_deleted']:>9,} "
            f"{rps:>10}  {r['via']}"
        )
    print()
    head = (
        f"{'scale':<6} {'path':<10} {'neptun/raw':>10} {'neptun/direct':>13} {'direct form':>11} "
        f"{'stock/neptun':>12} {'stock/neptun mem':>16} {'same rows':>9}"
    )
    print(head)
    print("-" * len(head))

    def fmt(x: float | None) -> str:
        return "-" if x is None else f"{x:.2f}x"

    for q in summary["ratios"]:
        print(
            f"{q['scale']:<6} {q['path']:<10} {fmt(q['neptun_over_raw_time']):>10} "
            f"{fmt(q['neptun_over_direct_time']):>13} {q['direct_form'] or '-':>11} "
            f"{fmt(q['stock_over_neptun_time']):>12} {fmt(q['stock_over_neptun_memory']):>16} "
            f"{q['same_rows_deleted']!s:>9}"
        )
    if summary["memory_by_scale"]:
        print()
        print("Neptun peak Python memory, large vs small scale:")
        for m in summary["memory_by_scale"]:
            print(
                f"  {m['path']:<10} small {_mb(m['neptun_peak_small'])} MB, "
                f"large {_mb(m['neptun_peak_large'])} MB ({m['large_over_small']:.2f}x)"
            )


# ---------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--scale",
        default="both",
        help="small, mid, large, xl, or several with commas (both: small,large); "
        "xl: p3 at 10,000 conversations and 1,000,000 messages on the large background; "
        "mid: the targets at a quarter of large (p3: 50,000 messages) on that background",
    )
    parser.add_argument("--quick", action="store_true", help="a tiny smoke run (1/100 scale)")
    parser.add_argument("--paths", default=",".join(PATHS), help="comma-separated, e.g. p1,p3")
    parser.add_argument(
        "--methods", default=",".join(METHODS), help="comma-separated: neptun,raw,stock,direct"
    )
    parser.add_argument(
        "--tiny-runs",
        type=int,
        default=30,
        help="tiny delete vs authenticated GET of the same chat, this many times a scale (0: off)",
    )
    parser.add_argument("--db", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB))
    parser.add_argument(
        "--no-memory",
        action="store_true",
        help="skip the second (tracemalloc) pass: times only, no peak memory",
    )
    parser.add_argument(
        "--chunk-size",
        type=int,
        default=None,
        help="override DELETION_CHUNK_SIZE in the server (an experiment)",
    )
    parser.add_argument(
        "--batch-threshold",
        type=int,
        default=None,
        help="override DELETION_BATCH_THRESHOLD (messages) in the server (an experiment)",
    )
    parser.add_argument(
        "--repeat", type=int, default=1, help="timed runs per deletion; the median is reported"
    )
    parser.add_argument("--out", type=Path, default=None, help="JSON file (default: results/)")
    args = parser.parse_args(argv)

    paths = [p.strip() for p in args.paths.split(",") if p.strip()]
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    if set(methods) - set(METHODS) or not methods:
        parser.error(f"--methods takes some of {', '.join(METHODS)}")
    unknown = set(paths) - set(PATHS)
    if unknown:
        parser.error(f"unknown paths: {', '.join(sorted(unknown))}")
    scale_names = ["small", "large"] if args.scale == "both" else args.scale.split(",")
    if args.quick:
        scale_names = ["quick"]
    if not scale_names or set(scale_names) - {"small", "mid", "large", "xl", "quick"}:
        parser.error("--scale takes small, mid, large, xl or both (or several with commas)")
    if "xl" in scale_names and paths != ["p3"]:
        parser.error("--scale xl is for p3 only (--paths p3)")
    if not args.db.startswith(("postgres://", "postgresql://")):
        parser.error("the benchmark runs on PostgreSQL (--db postgres://…)")

    media = tempfile.mkdtemp(prefix="neptun-bench-media-")
    env = {
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "DATABASE_URL": args.db,
        "DEBUG": "0",
        "NEPTUN_BENCH": "1",
        "BENCH_MEDIA_ROOT": media,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
    }
    if args.chunk_size:
        env["BENCH_DELETION_CHUNK_SIZE"] = str(args.chunk_size)
    if args.batch_threshold is not None:
        env["BENCH_DELETION_BATCH_THRESHOLD"] = str(args.batch_threshold)
    _log(f"recreating {urlsplit(args.db).path.lstrip('/')} and migrating")
    recreate_database(args.db)
    setup_django(env)

    import httpx
    from django.core.management import call_command

    from bench.data import SCALES
    from bench.server import LiveServer
    from neptun.models import ApiKey, Tenant

    call_command("migrate", verbosity=0)
    results: list[dict[str, Any]] = []
    tiny: list[dict[str, Any]] = []
    started = datetime.now(UTC)
    with (
        LiveServer(env) as server,
        httpx.Client(base_url=server.url, trust_env=False, timeout=1800) as client,
    ):
        _log(f"server on {server.url}")
        warm_up(client, paths, tuple(methods))
        for name in scale_names:
            tenant = Tenant.objects.get_or_create(name="bench")[0]
            ApiKey.objects.filter(tenant=tenant).delete()
            _, secret = ApiKey.generate(tenant=tenant)
            bench = Bench(client, secret)
            results += run_scale(
                bench,
                SCALES[name],
                paths,
                tenant,
                methods=tuple(methods),
                memory=not args.no_memory,
                repeat=max(1, args.repeat),
            )
            if args.tiny_runs > 0:
                tiny.append(fixed_cost(bench, SCALES[name], tenant, runs=args.tiny_runs))
    summary = summarize(results)
    print_table(results, summary)
    for t in tiny:
        print(
            f"{t['scale']:<6} tiny delete {t['delete']['wall_s'] * 1000:.1f} ms vs authenticated "
            f"GET {t['get']['wall_s'] * 1000:.1f} ms: {t['delete_over_get']:.2f}x "
            f"(median of {t['runs']})"
        )
    out = args.out or RESULTS / f"bench-{started:%Y%m%dT%H%M%SZ}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "started": started.isoformat(),
                "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
                "scales": scale_names,
                "tracemalloc": not args.no_memory,
                "chunk_size": args.chunk_size,
                "batch_threshold": args.batch_threshold,
                "repeat": args.repeat,
                "paths": paths,
                "methods": methods,
                "results": results,
                "summary": summary,
                "fixed_cost": tiny,
            },
            indent=2,
        )
    )
    print(f"\nresults: {out}")
    shutil.rmtree(media, ignore_errors=True)
    return 0
