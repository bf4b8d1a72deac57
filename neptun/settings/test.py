"""Test settings: ``base`` with DEBUG on, fast hashing, and blobs in a temporary folder
under a namespace of their own."""

import os
import tempfile

os.environ.setdefault("DEBUG", "1")

from .base import *  # noqa: F403
from .base import DATABASES

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
MEDIA_ROOT = tempfile.mkdtemp(prefix="neptun-test-media-")
# The tests' own namespace, never a developer's database's (tests/s3.py gives each S3
# test a bucket of its own as well).
STORAGE_NAMESPACE = "test"
STATIC_ROOT = tempfile.mkdtemp(prefix="neptun-test-static-")
CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file (not :memory:) so that concurrent connections wait on the busy timeout
    # instead of failing with "table is locked"; one per test process, so parallel
    # runs never share it.
    DATABASES["default"]["TEST"] = {
        "NAME": os.path.join(tempfile.gettempdir(), f"neptun-test-{os.getpid()}.sqlite3")
    }
