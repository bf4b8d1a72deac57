"""Test settings: ``base`` with DEBUG on, fast hashing, and blobs in a temporary folder."""

import os
import tempfile

os.environ.setdefault("DEBUG", "1")

from .base import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
MEDIA_ROOT = tempfile.mkdtemp(prefix="neptun-test-media-")
STATIC_ROOT = tempfile.mkdtemp(prefix="neptun-test-static-")
CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
