"""Storages for tests that run real processes (selected with ``TEST_STORAGE_BACKEND``
through :mod:`tests.process_settings`): file system storage that misbehaves on
purpose, so a test can catch a process between its commit and its blob removals."""

from __future__ import annotations

import os
import time
from pathlib import Path

from django.core.files.storage import FileSystemStorage

#: Longest a blocking delete waits (a test kills the process long before).
BLOCK_SECONDS = 120


class BlockingStorage(FileSystemStorage):
    """``delete`` hangs: the process is stuck after its commit, before any removal."""

    def delete(self, name: str) -> None:
        time.sleep(float(os.environ.get("TEST_STORAGE_BLOCK", BLOCK_SECONDS)))
        super().delete(name)


class RecordingStorage(FileSystemStorage):
    """``delete`` appends the name to the file ``TEST_STORAGE_LOG`` (one line per call,
    ``O_APPEND``, so several processes can share it), then deletes."""

    def delete(self, name: str) -> None:
        with open(os.environ["TEST_STORAGE_LOG"], "a", encoding="utf-8") as log:
            log.write(name + "\n")
        super().delete(name)


class RefusingOnceStorage(FileSystemStorage):
    """``delete`` refuses (``OSError``) the first call for each name, then deletes: the
    names refused so far are lines of the file ``TEST_STORAGE_LOG`` (shared by every
    process, so the retry that succeeds may come from another one)."""

    def delete(self, name: str) -> None:
        log = Path(os.environ["TEST_STORAGE_LOG"])
        refused = log.read_text(encoding="utf-8").split() if log.exists() else []
        if name not in refused:
            with open(log, "a", encoding="utf-8") as out:
                out.write(name + "\n")
            raise OSError(f"storage refused to delete {name} (the first time)")
        super().delete(name)
