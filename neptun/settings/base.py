"""Neptun settings, read from the environment (django-environ).

Environment values (all optional except ``SECRET_KEY`` when ``DEBUG`` is off):

- ``SECRET_KEY`` (required when ``DEBUG`` is off)
- ``DEBUG`` (default: on without a ``SECRET_KEY`` — a developer's machine — and off
  with one, so a deployment that sets its key gets production behaviour)
- ``DATABASE_URL`` (default: ``sqlite:///<repo>/db.sqlite3``)
- ``ALLOWED_HOSTS`` (comma separated; default ``localhost,127.0.0.1,[::1]``)
- ``TRUSTED_ORIGINS`` (comma separated origins allowed to send cookie-authenticated
  unsafe requests, e.g. ``https://chat.example.com``)
- ``REDIS_URL`` (when set, the Channels layer and cache use Redis)
- ``TASKS_BACKEND`` (the queue of background jobs: ``database`` — the default, in the
  database through django-tasks-db — or ``rq``, RQ on Redis through django-tasks-rq,
  for workers on many machines; ``manage.py worker`` runs either), ``TASKS_REDIS_URL``
  (RQ's Redis; default ``REDIS_URL``), ``RQ_JOB_TIMEOUT`` (seconds RQ lets one job
  run; default 3600)
- ``MEDIA_ROOT`` (where uploaded blobs are stored without a bucket; default
  ``<repo>/media``)
- ``AWS_STORAGE_BUCKET_NAME`` (when set, blobs live in this bucket of an
  S3-compatible service, through django-storages' S3 backend), with
  ``AWS_S3_ENDPOINT_URL`` (the service's URL; empty for AWS itself),
  ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY`` and ``AWS_S3_REGION_NAME``
  (django-storages' own names)
- ``STORAGE_NAMESPACE`` (the folder of storage that belongs to this deployment: every
  blob key starts with it and the orphan sweep lists only it; default derived from
  the database, see ``storage_namespace`` below)
- ``SECURE_SSL_REDIRECT``, ``SECURE_COOKIES``, ``SECURE_HSTS_SECONDS``: HTTPS-only
  switches, off by default so the app runs on plain loopback or behind a
  TLS-terminating proxy.
- ``CHAT_CONNECTION_TTL`` (seconds a WebSocket heartbeat stays valid; default 60)
- ``API_DOCS_ACCESS`` (who reads ``/api/schema/`` and ``/api/docs/``: ``public``,
  ``staff`` or ``off``; default ``public`` with DEBUG on, ``staff`` with it off —
  see ``neptun/api/docs.py``)
- ``TRUSTED_PROXIES`` (comma separated addresses or CIDR networks of the reverse
  proxies in front of the server) or ``TRUSTED_PROXY_COUNT`` (how many proxies every
  request passes through): off by default, and then the client's address — for every
  throttle, log line and deletion record — is the connection's peer, whatever
  forwarding headers say. With one of them set, the address comes from the
  ``X-Forwarded-For`` hops the proxies added (right-most first); ``X-Real-IP`` and
  ``Forwarded`` are never read. Not both. See ``neptun/client_address.py``.
- ``LOGIN_THROTTLE_RATE`` (``POST /api/auth/login`` per client address; default
  ``10/min``), ``ADMIN_LOGIN_THROTTLE_RATE`` (``POST /admin/login/`` per client
  address; default the same as ``LOGIN_THROTTLE_RATE``), ``AUTH_FAILURE_LIMIT`` /
  ``AUTH_FAILURE_WINDOW`` (failed API-key / token attempts per client address):
  see docs/limits.md.
- ``MAX_UPLOAD_SIZE`` (bytes of one upload, all its file parts together; default
  52,428,800 = 50 MiB; over it: 413, nothing written)
- ``UPLOAD_QUOTA_PER_USER`` (bytes of stored files per user; default 1 GiB; ``0``
  turns the quota off; over it: 413, nothing written)
- ``MAX_MESSAGE_LENGTH`` (characters in one message's content, every door; default
  100,000) and ``MESSAGE_RATE`` (message posts per API key or user, REST and
  WebSocket together; default ``60/min``, empty for no limit): see docs/limits.md
"""

import hashlib
import ipaddress
import re
from pathlib import Path
from typing import Any

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
if (BASE_DIR / ".env").is_file():
    env.read_env(BASE_DIR / ".env")

# Without a SECRET_KEY this is a developer's machine: DEBUG defaults on, with a fixed
# development key. A deployment sets SECRET_KEY, and DEBUG then defaults off; DEBUG=0
# without a SECRET_KEY refuses to start.
_SECRET_KEY = env.str("SECRET_KEY", default="")
DEBUG = env.bool("DEBUG", default=not _SECRET_KEY)
_DEV_SECRET = "insecure-dev-only-secret-key-do-not-use-in-production-0123456789"  # noqa: S105
SECRET_KEY = _SECRET_KEY or (_DEV_SECRET if DEBUG else "")
if not SECRET_KEY:
    raise ImproperlyConfigured(
        "SECRET_KEY must be set when DEBUG is off (for local use, leave DEBUG unset)."
    )

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
TRUSTED_ORIGINS = env.list(
    "TRUSTED_ORIGINS", default=["http://localhost:8000", "http://127.0.0.1:8000"]
)
CSRF_TRUSTED_ORIGINS = TRUSTED_ORIGINS

INSTALLED_APPS = [
    "daphne",
    "neptun.apps.NeptunAdminConfig",  # django.contrib.admin, login throttled
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "django_tasks_db",
    "neptun",
    "collections_app",
    "chats",
    "projects",
]

MIDDLEWARE = [
    "neptun.logging.RequestLogMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "neptun.urls"
WSGI_APPLICATION = "neptun.wsgi.application"
ASGI_APPLICATION = "neptun.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DATABASES["default"].setdefault("ATOMIC_REQUESTS", False)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL and a busy timeout let the ASGI server's threads share the file.
    DATABASES["default"].setdefault("OPTIONS", {})
    DATABASES["default"]["OPTIONS"].setdefault(
        "init_command", "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
    )
    DATABASES["default"]["OPTIONS"].setdefault("timeout", 20)
    DATABASES["default"]["OPTIONS"].setdefault("transaction_mode", "IMMEDIATE")
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and env.bool(
    "DB_POOL", default=True
):
    # A pool of open connections (psycopg_pool, through Django's "pool" option).
    # The ASGI server runs each request in a thread of its own, so CONN_MAX_AGE
    # cannot keep a connection between requests: without a pool every request
    # opens one, 5-11 ms measured on loopback (bench/README.md, "After tuning").
    # DB_POOL=0 turns it off (e.g. behind PgBouncer); the pool's size is per process.
    DATABASES["default"]["CONN_MAX_AGE"] = 0  # the pool keeps connections instead
    DATABASES["default"].setdefault("OPTIONS", {})
    DATABASES["default"]["OPTIONS"].setdefault(
        "pool",
        {
            "min_size": env.int("DB_POOL_MIN_SIZE", default=2),
            "max_size": env.int("DB_POOL_MAX_SIZE", default=10),
            "timeout": env.int("DB_POOL_TIMEOUT", default=10),
        },
    )

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "neptun.User"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")
# WhiteNoise serves the admin's static files in production (after collectstatic);
# in DEBUG it finds them in the apps directly.
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG
STORAGES: dict[str, dict[str, Any]] = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
MEDIA_URL = "media/"
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / "media")

# Uploaded blobs: the local file system (MEDIA_ROOT) unless a bucket is named; then an
# S3-compatible service (AWS, MinIO, Cloudflare R2, Ceph) through django-storages, with
# its own setting names read from the environment. ``file_overwrite`` is off: storage
# never hands an existing blob's name to a new upload (the outbox relies on it, see
# chats/deletion/effects.py), while django-storages would overwrite by default.
AWS_STORAGE_BUCKET_NAME = env.str("AWS_STORAGE_BUCKET_NAME", default="")
if AWS_STORAGE_BUCKET_NAME:
    STORAGES["default"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": AWS_STORAGE_BUCKET_NAME,
            "endpoint_url": env.str("AWS_S3_ENDPOINT_URL", default="") or None,
            "access_key": env.str("AWS_ACCESS_KEY_ID", default="") or None,
            "secret_key": env.str("AWS_SECRET_ACCESS_KEY", default="") or None,
            "region_name": env.str("AWS_S3_REGION_NAME", default="") or None,
            # Signature version 4: what AWS's newer regions and R2 accept.
            "signature_version": env.str("AWS_S3_SIGNATURE_VERSION", default="s3v4"),
            "file_overwrite": False,
        },
    }


def storage_namespace(database: dict) -> str:
    """The default ``STORAGE_NAMESPACE``: the database's vendor and name, and a short
    hash of where it is (file path, or host, port and name).

    Two databases never share a default, so a developer who runs on SQLite and then on
    PostgreSQL, or staging and production on one bucket, get two namespaces, and
    neither's orphan sweep can take the other's blobs for orphans. The hash keeps it
    short and hides the host; vendor and name keep it readable in a bucket listing.
    """
    vendor = database["ENGINE"].rsplit(".", 1)[-1].removesuffix("3")
    name = str(database.get("NAME") or "")
    where = "|".join(
        [vendor, str(database.get("HOST") or ""), str(database.get("PORT") or ""), name]
    )
    if vendor == "sqlite":
        where = str(Path(name).resolve()) if name and name != ":memory:" else name
        name = Path(name).stem
    readable = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:40] or "db"
    digest = hashlib.sha256(where.encode()).hexdigest()[:8]
    return f"{vendor}-{readable}-{digest}"


_NAMESPACE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
STORAGE_NAMESPACE = env.str("STORAGE_NAMESPACE", default=storage_namespace(DATABASES["default"]))
if STORAGE_NAMESPACE and not _NAMESPACE.fullmatch(STORAGE_NAMESPACE):
    raise ImproperlyConfigured(
        "STORAGE_NAMESPACE must be one folder name of letters, digits, '.', '_' and '-' "
        f"(at most 100, not starting with a dot), not {STORAGE_NAMESPACE!r}."
    )

# The Neptun dialect's session cookie.
SESSION_COOKIE_NAME = "neptun-session"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"

# HTTPS-only switches: off by default, on in a TLS deployment.
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
SESSION_COOKIE_SECURE = env.bool("SECURE_COOKIES", default=False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
SECURE_HSTS_PRELOAD = SECURE_HSTS_SECONDS > 0
if env.bool("BEHIND_TLS_PROXY", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL]},
        }
    }
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Deletion service: ids per SQL statement; blob names held in memory (more go
# through a queue in the database, read back in chunks of that size); above
# DELETION_BATCH_THRESHOLD messages (Chat.message_count) a deletion runs in batches
# of about DELETION_BATCH_MESSAGES messages and at most DELETION_BATCH_CHATS chats,
# each its own short transaction with these PostgreSQL timeouts (see
# chats/deletion/engine.py and the README). A chunk of blob names is one
# batched removal: 1,000 is what one S3 DeleteObjects request takes.
DELETION_CHUNK_SIZE = env.int("DELETION_CHUNK_SIZE", default=5000)
DELETION_BLOB_CHUNK_SIZE = env.int("DELETION_BLOB_CHUNK_SIZE", default=1000)
DELETION_BATCH_THRESHOLD = env.int("DELETION_BATCH_THRESHOLD", default=500_000)
# A batch of 100,000 messages held its locks about 70 ms on the benchmark's machine;
# p3 at 1M messages took 1.08 s in ten of them against 1.16 s in twenty of 50,000.
DELETION_BATCH_CHATS = env.int("DELETION_BATCH_CHATS", default=1000)
DELETION_BATCH_MESSAGES = env.int("DELETION_BATCH_MESSAGES", default=100_000)
DELETION_LOCK_TIMEOUT = env.str("DELETION_LOCK_TIMEOUT", default="5s")
DELETION_STATEMENT_TIMEOUT = env.str("DELETION_STATEMENT_TIMEOUT", default="60s")

# Background work on Django's Tasks framework; `manage.py worker` runs the jobs of
# either backend. TASKS_BACKEND=database (the default) keeps the queue in the database
# (django-tasks-db): no extra service, on SQLite and PostgreSQL alike. TASKS_BACKEND=rq
# puts it on RQ in Redis (django-tasks-rq), for workers on many machines; the queue
# lives at TASKS_REDIS_URL (default REDIS_URL, one of which is then required). A
# dotted path names any other backend class.
# django-tasks-rq is written against the django-tasks backport (installed with it):
# Django 6.1's `task_backends` takes its backend class as it is (it only imports and
# instantiates it), `@task` then builds the backport's Task (the backend's
# `task_class`) and `enqueue()` returns the backport's TaskResult; both have the same
# API, and our code uses nothing else.
_TASKS_BACKENDS = {
    "database": "django_tasks_db.DatabaseBackend",
    "rq": "django_tasks_rq.RQBackend",
}
TASKS_BACKEND = env.str("TASKS_BACKEND", default="database")
if TASKS_BACKEND not in _TASKS_BACKENDS and "." not in TASKS_BACKEND:
    raise ImproperlyConfigured(
        f"TASKS_BACKEND must be one of {', '.join(_TASKS_BACKENDS)} or a dotted path, "
        f"not {TASKS_BACKEND!r}."
    )
TASKS = {
    "default": {
        "BACKEND": _TASKS_BACKENDS.get(TASKS_BACKEND, TASKS_BACKEND),
        "QUEUES": ["default"],
    }
}
TASKS_REDIS_URL = env.str("TASKS_REDIS_URL", default=REDIS_URL)
if TASKS["default"]["BACKEND"] == _TASKS_BACKENDS["rq"]:
    if not TASKS_REDIS_URL:
        raise ImproperlyConfigured("TASKS_BACKEND=rq needs REDIS_URL (or TASKS_REDIS_URL).")
    INSTALLED_APPS.append("django_rq")
    # One RQ queue per task queue. A job running longer than the timeout is stopped
    # by RQ (the sweeps are idempotent: the next run goes on where it stopped).
    RQ_QUEUES = {
        name: {"URL": TASKS_REDIS_URL, "DEFAULT_TIMEOUT": env.int("RQ_JOB_TIMEOUT", 3600)}
        for name in TASKS["default"]["QUEUES"]
    }
    # Jobs of django.tasks tasks need django-tasks-rq's job class (any worker of ours
    # or `manage.py rqworker` takes it from here).
    RQ = {"JOB_CLASS": "django_tasks_rq.Job"}
    RQ_SHOW_ADMIN_LINK = False

# The outbox of storage side effects (chats/deletion/effects.py). A removal that
# fails is retried by the worker after OUTBOX_RETRY_BASE seconds, doubling up to
# OUTBOX_RETRY_MAX, at most OUTBOX_MAX_ATTEMPTS times; a process holds the rows it
# works on for OUTBOX_LEASE seconds (a crashed one's rows are free after that); the
# worker looks for leftover rows every OUTBOX_SWEEP_INTERVAL seconds.
OUTBOX_RETRY_BASE = env.int("OUTBOX_RETRY_BASE", default=10)
OUTBOX_RETRY_MAX = env.int("OUTBOX_RETRY_MAX", default=3600)
OUTBOX_MAX_ATTEMPTS = env.int("OUTBOX_MAX_ATTEMPTS", default=10)
OUTBOX_LEASE = env.int("OUTBOX_LEASE", default=300)
OUTBOX_SWEEP_INTERVAL = env.int("OUTBOX_SWEEP_INTERVAL", default=30)
# Fresh outbox rows a deletion moved from its scratch table are carried out right
# after commit in chunks of this many (read, removed, deleted: three statements and
# one storage request, S3's DeleteObjects taking 1,000 keys); a chunk's rows are what
# the process holds in memory, whatever the size of the deletion (about 0.5 MB for
# 1,000: p3 at xl peaked at 1.18 MB against 0.67 MB before the outbox). With 200, a
# deletion of 10,000 blobs would make 50 storage requests instead of 10.
OUTBOX_CARRY_CHUNK_SIZE = env.int("OUTBOX_CARRY_CHUNK_SIZE", default=1000)
# The worker runs `cleanup_orphans --yes` (its defaults) every this many seconds
# (default daily; 0: never, e.g. when cron runs the command instead).
ORPHAN_SWEEP_INTERVAL = env.int("ORPHAN_SWEEP_INTERVAL", default=86400)
# An admin deletion whose preview counts more rows than this runs as a background job
# (neptun/admin_jobs.py; 0: never); a job whose heartbeat is older than
# DELETION_JOB_STALE_AFTER seconds is resumed by another run.
DELETION_JOB_THRESHOLD = env.int("DELETION_JOB_THRESHOLD", default=100_000)
DELETION_JOB_STALE_AFTER = env.int("DELETION_JOB_STALE_AFTER", default=300)


def _limit(name: str, default: int | None) -> int | None:
    """A retention limit from the environment: a positive whole number, or
    ``forever`` (also an empty value) to keep data forever."""
    raw = env.str(name, default="" if default is None else str(default)).strip().lower()
    if raw in ("", "forever"):
        return None
    if not raw.isdigit() or int(raw) < 1:
        raise ImproperlyConfigured(f"{name} must be a positive whole number or 'forever'.")
    return int(raw)


# The instance's retention policy (chats/retention.py), for tenants without their own:
# conversations with no activity for RETENTION_INACTIVE_DAYS days (of the types in
# RETENTION_CONVERSATION_TYPES; empty: every type) are deleted, temporary chats expire
# RETENTION_TEMPORARY_HOURS hours after their creation, deletion records are pruned
# after RETENTION_RECORD_DAYS days. Each may be "forever" (the default, except 720
# hours for temporary chats). The worker applies the policies every
# RETENTION_INTERVAL seconds (0: never; `manage.py apply_retention` does it by hand),
# RETENTION_BATCH_CHATS chats a transaction.
RETENTION_INACTIVE_DAYS = _limit("RETENTION_INACTIVE_DAYS", None)
RETENTION_CONVERSATION_TYPES = env.list("RETENTION_CONVERSATION_TYPES", default=[])
RETENTION_TEMPORARY_HOURS = _limit("RETENTION_TEMPORARY_HOURS", 720)
RETENTION_RECORD_DAYS = _limit("RETENTION_RECORD_DAYS", None)
RETENTION_INTERVAL = env.int("RETENTION_INTERVAL", default=3600)
RETENTION_BATCH_CHATS = env.int("RETENTION_BATCH_CHATS", default=500)

# Seconds a WebSocket presence record counts without a fresh heartbeat.
CHAT_CONNECTION_TTL = env.int("CHAT_CONNECTION_TTL", default=60)

# Reverse proxies whose X-Forwarded-For hops are believed (neptun/client_address.py).
TRUSTED_PROXIES = env.list("TRUSTED_PROXIES", default=[])
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
try:
    for _proxy in TRUSTED_PROXIES:
        ipaddress.ip_network(_proxy.strip(), strict=False)
except ValueError as exc:
    raise ImproperlyConfigured(f"TRUSTED_PROXIES: {exc}") from exc
if TRUSTED_PROXY_COUNT < 0:
    raise ImproperlyConfigured("TRUSTED_PROXY_COUNT must be 0 or more.")
if TRUSTED_PROXIES and TRUSTED_PROXY_COUNT:
    raise ImproperlyConfigured("Set TRUSTED_PROXIES or TRUSTED_PROXY_COUNT, not both.")

LOGIN_THROTTLE_RATE = env.str("LOGIN_THROTTLE_RATE", default="10/min")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "neptun.api.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 50,
    # DRF's JSON parser, except that too deeply nested JSON is a 4xx (neptun/api/parsers.py).
    "DEFAULT_PARSER_CLASSES": [
        "neptun.api.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_SCHEMA_CLASS": "neptun.schema.NeptunAutoSchema",
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_THROTTLE_RATES": {
        # POST /api/auth/login and POST /admin/login/, per client address.
        "login": LOGIN_THROTTLE_RATE,
        "admin_login": env.str("ADMIN_LOGIN_THROTTLE_RATE", default=LOGIN_THROTTLE_RATE),
    },
    # Throttles identify clients with neptun.client_address (neptun/throttling.py);
    # 0 makes a plain DRF throttle fall back to the peer, never to a header.
    "NUM_PROXIES": 0,
}

# Most distinct chat ids one batch deletion of the cookie dialect takes; see docs/limits.md.
MAX_BATCH_CHAT_IDS = env.int("MAX_BATCH_CHAT_IDS", default=10_000)

# Largest ``?limit=`` of a list page (a larger one is cut to this); see docs/limits.md.
MAX_PAGE_SIZE = env.int("MAX_PAGE_SIZE", default=1000)

# Messages (chats/writes.py, neptun/throttling.py; see docs/limits.md): the longest
# content in characters, and posts per API key (v1 REST and its sockets share one
# budget) or per user (cookie dialect) as DRF's "N/s|min|hour|day"; empty: no limit.
MAX_MESSAGE_LENGTH = env.int("MAX_MESSAGE_LENGTH", default=100_000)
MESSAGE_RATE = env.str("MESSAGE_RATE", default="60/min").strip()
if MESSAGE_RATE and not re.fullmatch(r"[0-9]+/(s|sec|m|min|h|hour|d|day)", MESSAGE_RATE):
    # Refused at start-up, not with a 500 at the first post.
    raise ImproperlyConfigured(f"MESSAGE_RATE must look like 60/min, not {MESSAGE_RATE!r}.")

# Failed API-key / access-token attempts allowed per client address and window.
AUTH_FAILURE_LIMIT = env.int("AUTH_FAILURE_LIMIT", default=20)
AUTH_FAILURE_WINDOW = env.int("AUTH_FAILURE_WINDOW", default=60)

# Who reads the OpenAPI schema and docs (neptun/api/docs.py): public, staff or off.
API_DOCS_ACCESS = env.str("API_DOCS_ACCESS", default="public" if DEBUG else "staff")
if API_DOCS_ACCESS not in ("public", "staff", "off"):
    raise ImproperlyConfigured("API_DOCS_ACCESS must be public, staff or off.")

SPECTACULAR_SETTINGS = {
    "TITLE": "Neptun API",
    "DESCRIPTION": "Chat data backend: three REST dialects that create, list and delete.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI's files are served from the sidecar package, not from a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SCHEMA_PATH_PREFIX": r"/api/",
    "COMPONENT_SPLIT_REQUEST": True,
    # Links from create operations to the created object's operations (neptun/schema.py).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "neptun.schema.add_links",
        "neptun.schema.optional_temporary_fields",
    ],
}

# Largest request body Django will read into memory (uploads excepted).
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=2 * 1024 * 1024)
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024

# Uploads (neptun/uploads.py, docs/limits.md). 50 MiB takes the documents, images and
# spreadsheets a chat client attaches, while one request can neither fill a disk nor
# keep a worker busy for long; the quota bounds what one user (one leaked token) can
# store in total. The first upload handler stops a body over the limit while it streams.
MAX_UPLOAD_SIZE = env.int("MAX_UPLOAD_SIZE", default=50 * 1024 * 1024)
UPLOAD_QUOTA_PER_USER = env.int("UPLOAD_QUOTA_PER_USER", default=1024 * 1024 * 1024)
FILE_UPLOAD_HANDLERS = [
    "neptun.uploads.UploadLimitHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]

# ``json``: one JSON object per line (default when DEBUG is off); ``text`` otherwise.
LOG_FORMAT = env.str("LOG_FORMAT", default="text" if DEBUG else "json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {"()": "neptun.logging.JsonFormatter"},
        "text": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "filters": {"no_http_access": {"()": "neptun.logging.SkipHttpAccessLines"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        # Django's own console handler (DEBUG only) would print every ``django.*``
        # record a second time, unformatted: they reach the root handler instead.
        "django": {"handlers": [], "level": "INFO", "propagate": True},
        "django.db.backends": {"level": "INFO"},
        # Requests are logged once, by neptun.request; the servers' own access
        # lines would repeat them, and so would django.request's "Not Found: …"
        # warnings (its errors, 5xx with their traceback, stay).
        "django.request": {"level": "ERROR"},
        "daphne.access": {"level": "WARNING"},
        "uvicorn.access": {"level": "WARNING"},
        "django.server": {"level": "WARNING"},
        # ``manage.py runserver`` (daphne's): its WebSocket lines stay, its HTTP ones
        # go except for static files, which bypass Django's middleware.
        "django.channels.server": {"filters": ["no_http_access"]},
    },
}
