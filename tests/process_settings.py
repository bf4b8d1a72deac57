"""Settings of server and worker processes started by tests: the base settings, with
the default storage class taken from ``TEST_STORAGE_BACKEND`` (see tests/storages.py)."""

import os

from neptun.settings.base import *  # noqa: F403
from neptun.settings.base import STORAGES

STORAGES = {
    **STORAGES,
    "default": {
        "BACKEND": os.environ.get(
            "TEST_STORAGE_BACKEND", "django.core.files.storage.FileSystemStorage"
        )
    },
}
