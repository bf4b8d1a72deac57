"""Bench-only measurement inside the server process.

:class:`BenchMiddleware` measures a request that carries the header
``X-Bench-Measure: 1`` and answers the figures in the ``X-Bench-Stats`` response
header (JSON):

- ``queries``: SQL statements executed on the default connection
  (``connection.execute_wrapper``);
- ``py_peak_bytes``: peak of Python memory allocated during the request
  (``tracemalloc`` runs only for a request that also carries ``X-Bench-Trace: 1``:
  tracing slows Python code down 2-4x, so the harness times one run without it
  and measures memory on a second run, on identical data);
- ``server_seconds``: time spent in the handler;
- ``rss_bytes``: the process's resident set size afterwards.

With ``BENCH_SQL_LOG=<file>`` in the server's environment, each measured (untraced)
request also appends its statements with their times to that file: a profile of
where a request's time goes. With ``BENCH_PROFILE=<folder>``, each measured
(untraced) request also leaves a cProfile file there (``python -m pstats``).

:func:`run_view` (``POST /__bench__/run``) runs one operation of :mod:`bench.ops`
(raw SQL, stock Django, or the Neptun service called directly).

Both exist only under ``bench.settings`` and refuse to work unless ``NEPTUN_BENCH=1``
and the client is on loopback.
"""

from __future__ import annotations

import cProfile
import json
import os
import time
import tracemalloc
from pathlib import Path

from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

LOOPBACK = {"127.0.0.1", "::1"}


def _enabled(request: HttpRequest) -> bool:
    return os.environ.get("NEPTUN_BENCH") == "1" and request.META.get("REMOTE_ADDR") in LOOPBACK


def _rss_bytes() -> int:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


class _QueryCounter:
    """Counts statements; with ``BENCH_SQL_LOG`` set, also times each one."""

    def __init__(self, log: bool = False) -> None:
        self.n = 0
        self.timings: list[tuple[float, str]] | None = [] if log else None

    def __call__(self, execute, sql, params, many, context):
        self.n += 1
        if self.timings is None:
            return execute(sql, params, many, context)
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.timings.append((time.perf_counter() - started, " ".join(sql.split())[:160]))


def _write_sql_log(request: HttpRequest, elapsed: float, counter: _QueryCounter) -> None:
    """Append the request's statements with their times to ``BENCH_SQL_LOG``."""
    in_sql = sum(t for t, _ in counter.timings)
    lines = [
        f"== {request.method} {request.path} {elapsed * 1000:.1f} ms, "
        f"{counter.n} statements, {in_sql * 1000:.1f} ms in SQL"
    ]
    lines += [f"{t * 1000:7.2f} ms  {sql}" for t, sql in counter.timings]
    with open(os.environ["BENCH_SQL_LOG"], "a") as out:
        out.write("\n".join(lines) + "\n")


class BenchMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.headers.get("X-Bench-Measure") != "1" or not _enabled(request):
            return self.get_response(request)
        counter = _QueryCounter(log=bool(os.environ.get("BENCH_SQL_LOG")))
        trace = request.headers.get("X-Bench-Trace") == "1"
        if trace:
            tracemalloc.start()
            tracemalloc.reset_peak()
        profile_dir = os.environ.get("BENCH_PROFILE")
        profiler = cProfile.Profile() if profile_dir and not trace else None
        started = time.perf_counter()
        try:
            with connection.execute_wrapper(counter):
                if profiler is not None:
                    profiler.enable()
                response = self.get_response(request)
                if profiler is not None:
                    profiler.disable()
        finally:
            elapsed = time.perf_counter() - started
            peak = tracemalloc.get_traced_memory()[1] if trace else None
            if trace:
                tracemalloc.stop()
        if counter.timings is not None and not trace:
            _write_sql_log(request, elapsed, counter)
        if profiler is not None:
            name = f"{time.time_ns()}-{request.method}-{request.path.strip('/').replace('/', '_')}"
            profiler.dump_stats(Path(profile_dir) / f"{name[:120]}.prof")
        response["X-Bench-Stats"] = json.dumps(
            {
                "queries": counter.n,
                "py_peak_bytes": peak,
                "server_seconds": elapsed,
                "rss_bytes": _rss_bytes(),
            }
        )
        return response


@csrf_exempt
def run_view(request: HttpRequest) -> HttpResponse:
    """``POST {"op": ..., "path": ..., "params": {...}}`` → ``{"result": ...}``."""
    if not _enabled(request) or request.method != "POST":
        return JsonResponse({"detail": "Not Found"}, status=404)
    from bench import ops

    body = json.loads(request.body)
    result = ops.run(body["op"], body["path"], body.get("params", {}))
    return JsonResponse({"result": result})
