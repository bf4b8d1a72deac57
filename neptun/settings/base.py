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
- ``MEDIA_ROOT`` (where uploaded blobs are stored; default ``<repo>/media``)
- ``SECURE_SSL_REDIRECT``, ``SECURE_COOKIES``, ``SECURE_HSTS_SECONDS``: HTTPS-only
  switches, off by default so the app runs on plain loopback or behind a
  TLS-terminating proxy.
- ``CHAT_CONNECTION_TTL`` (seconds a WebSocket heartbeat stays valid; default 60)
"""

from pathlib import Path

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
    "django.contrib.admin",
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
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
MEDIA_URL = "media/"
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / "media")

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
# DELETION_BATCH_THRESHOLD messages (counted) a deletion runs in batches of
# DELETION_BATCH_CHATS chats, each its own short transaction with these PostgreSQL
# timeouts (see chats/services.py and the README).
DELETION_CHUNK_SIZE = env.int("DELETION_CHUNK_SIZE", default=5000)
DELETION_BLOB_CHUNK_SIZE = env.int("DELETION_BLOB_CHUNK_SIZE", default=200)
DELETION_BATCH_THRESHOLD = env.int("DELETION_BATCH_THRESHOLD", default=500_000)
DELETION_BATCH_CHATS = env.int("DELETION_BATCH_CHATS", default=500)
DELETION_BATCH_MESSAGES = env.int("DELETION_BATCH_MESSAGES", default=50_000)
DELETION_LOCK_TIMEOUT = env.str("DELETION_LOCK_TIMEOUT", default="5s")
DELETION_STATEMENT_TIMEOUT = env.str("DELETION_STATEMENT_TIMEOUT", default="60s")

# Seconds a WebSocket presence record counts without a fresh heartbeat.
CHAT_CONNECTION_TTL = env.int("CHAT_CONNECTION_TTL", default=60)

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
        # POST /api/auth/login, per client address.
        "login": env.str("LOGIN_THROTTLE_RATE", default="10/min"),
    },
}

# Most distinct chat ids one batch deletion of the cookie dialect takes; see docs/limits.md.
MAX_BATCH_CHAT_IDS = env.int("MAX_BATCH_CHAT_IDS", default=10_000)

# Largest ``?limit=`` of a list page (a larger one is cut to this); see docs/limits.md.
MAX_PAGE_SIZE = env.int("MAX_PAGE_SIZE", default=1000)

# Failed API-key / access-token attempts allowed per client address and window.
AUTH_FAILURE_LIMIT = env.int("AUTH_FAILURE_LIMIT", default=20)
AUTH_FAILURE_WINDOW = env.int("AUTH_FAILURE_WINDOW", default=60)

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
    ],
}

# Largest request body Django will read into memory (uploads excepted).
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=2 * 1024 * 1024)
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024

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
