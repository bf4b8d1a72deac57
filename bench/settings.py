"""Settings of the benchmark's server and harness: ``neptun.settings.base`` plus

- the stock-Django comparison app ``bench.stock`` (Python-level cascades and a
  ``post_delete`` signal that removes blobs: what most Django projects ship);
- :class:`bench.instrument.BenchMiddleware`, which measures a request's SQL query
  count and peak Python memory (tracemalloc) when it carries ``X-Bench-Measure``;
- ``bench.urls``: the application's URLs plus ``/__bench__/run`` (raw-SQL, stock and
  service operations of the benchmark).

Only the harness starts a server with these settings (``DJANGO_SETTINGS_MODULE=
bench.settings`` and ``NEPTUN_BENCH=1``, on 127.0.0.1); a normal run never loads them.
"""

import os

os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-never-used-in-production-0123456789")

from neptun.settings.base import *  # noqa: F403
from neptun.settings.base import (
    DATABASES,
    INSTALLED_APPS,
    MIDDLEWARE,
    REST_FRAMEWORK,
    STORAGES,
    env,
)

INSTALLED_APPS = [*INSTALLED_APPS, "bench.stock"]
MIDDLEWARE = ["bench.instrument.BenchMiddleware", *MIDDLEWARE]
ROOT_URLCONF = "bench.urls"

# Blobs of the bench data live in their own folder (the harness sets it).
MEDIA_ROOT = env.path("BENCH_MEDIA_ROOT", default="/tmp/neptun-bench-media")  # noqa: S108

# The admin pages render without a collectstatic run (DEBUG is off in the bench).
STORAGES = {
    **STORAGES,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# Logins are not what is measured: a fast hasher keeps them out of the way.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# ... and the harness logs in (API and admin) from 127.0.0.1 before each measured
# deletion, more often than the per-address login throttles allow.
REST_FRAMEWORK = {
    **REST_FRAMEWORK,
    "DEFAULT_THROTTLE_RATES": {
        **REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
        "login": "1000/min",
        "admin_login": "1000/min",
    },
}

# Experiments: the service's chunk size and large-purge threshold can be overridden.
if env.str("BENCH_DELETION_CHUNK_SIZE", default=""):
    DELETION_CHUNK_SIZE = env.int("BENCH_DELETION_CHUNK_SIZE")
if env.str("BENCH_DELETION_BATCH_THRESHOLD", default=""):
    DELETION_BATCH_THRESHOLD = env.int("BENCH_DELETION_BATCH_THRESHOLD")

# Quiet server: a log line per deletion is not what is measured either.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}

if env.str("BENCH_CONN_MAX_AGE", default=""):
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("BENCH_CONN_MAX_AGE")

# p4 measures the admin action itself, in its request: a selection over the job
# threshold would otherwise be handed to the worker (neptun/admin_jobs.py), and the
# measured request would only enqueue it.
DELETION_JOB_THRESHOLD = 0
