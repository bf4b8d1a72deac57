"""Blob storage as the deletion paths use it: batched removal and a flat listing.

Two calls, the same for every backend of ``default_storage``:

- :func:`blobs_remove` removes many blobs and says which failed and why. On an
  S3-compatible service (django-storages' ``S3Storage``) that is one
  ``DeleteObjects`` request per :data:`MAX_KEYS_PER_REQUEST` names, in quiet mode, so
  the answer lists only the keys it refused; 10,000 blobs are 10 requests, not
  10,000. Elsewhere (the local file system) it is the backend's own ``delete`` per
  name, which has no batch form. Either way a blob already gone is removed (storage
  deletes are idempotent), and a failure is data, never an exception: the outbox
  reschedules exactly the names that failed.
- :func:`blobs_under` lists every blob below one folder, with its modification time,
  one page (S3's ``ListObjectsV2``, 1,000 keys) or one directory at a time, so memory
  stays flat however many blobs there are; nothing outside the folder is ever
  returned.

Neither is called inside a transaction that holds row locks: a storage request may
take seconds, and the rows it is about are claimed with a lease by the outbox
(:mod:`chats.deletion.effects`), not locked.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.files.storage import Storage, default_storage
from storages.backends.s3 import S3Storage
from storages.utils import clean_name

#: Most keys one ``DeleteObjects`` request takes (S3's limit).
MAX_KEYS_PER_REQUEST = 1000

#: Keys one ``ListObjectsV2`` page asks for (S3's most): the walk's memory.
LIST_PAGE_SIZE = 1000


@dataclass(frozen=True)
class Blob:
    """One blob found by :func:`blobs_under`."""

    name: str
    modified: datetime


def describe(exc: BaseException) -> str:
    """How a storage failure is written into outbox rows, records and responses."""
    return f"{type(exc).__name__}: {exc}"


def _storage(storage: Storage | None) -> Any:
    return default_storage if storage is None else storage


def _is_s3(storage: Any) -> bool:
    # default_storage is a lazy proxy: isinstance sees the backend behind it.
    return isinstance(storage, S3Storage)


def blobs_remove(*, names: Sequence[str], storage: Storage | None = None) -> dict[str, str]:
    """Remove the blobs ``names``; return the ones that failed, each with why.

    Duplicates and empty names are ignored. A name storage no longer has counts as
    removed.
    """
    backend = _storage(storage)
    unique = sorted({name for name in names if name})
    if _is_s3(backend):
        return _s3_remove(backend, unique)
    failed: dict[str, str] = {}
    for name in unique:
        try:
            backend.delete(name)
        except Exception as exc:
            failed[name] = describe(exc)
    return failed


def _s3_key(storage: Any, name: str) -> str:
    """The object key of a storage name, as ``S3Storage`` computes it (its location
    prefixed, the name cleaned)."""
    return str(storage._normalize_name(clean_name(name)))


def _s3_remove(storage: Any, names: list[str]) -> dict[str, str]:
    client = storage.connection.meta.client
    failed: dict[str, str] = {}
    for start in range(0, len(names), MAX_KEYS_PER_REQUEST):
        chunk = names[start : start + MAX_KEYS_PER_REQUEST]
        by_key: dict[str, str] = {}
        for name in chunk:
            try:
                by_key[_s3_key(storage, name)] = name
            except Exception as exc:  # a name outside the storage's location
                failed[name] = describe(exc)
        if not by_key:
            continue
        try:
            response = client.delete_objects(
                Bucket=storage.bucket_name,
                Delete={"Objects": [{"Key": key} for key in by_key], "Quiet": True},
            )
        except Exception as exc:
            failed.update((name, describe(exc)) for name in by_key.values())
            continue
        for error in response.get("Errors", ()):
            refused = by_key.get(error.get("Key", ""))
            if refused is not None:
                failed[refused] = f"{error.get('Code', 'Error')}: {error.get('Message', '')}"
    return failed


def blobs_under(
    *, root: str, errors: list[dict[str, Any]], storage: Storage | None = None
) -> Iterator[Blob]:
    """Every blob whose name starts with ``root/``, with its modification time.

    A listing that fails adds one entry to ``errors`` (and the walk goes on where it
    can); a blob whose age cannot be read is left out — the orphan sweep never takes
    a blob of unknown age.
    """
    backend = _storage(storage)
    root = root.strip("/")
    if _is_s3(backend):
        yield from _s3_under(backend, root, errors)
    else:
        yield from _walk(backend, root, errors)


def _s3_under(storage: Any, root: str, errors: list[dict[str, Any]]) -> Iterator[Blob]:
    prefix = _s3_key(storage, root) + "/"
    location = str(storage.location).strip("/")
    skip = len(location) + 1 if location else 0
    pages = storage.connection.meta.client.get_paginator("list_objects_v2").paginate(
        Bucket=storage.bucket_name, Prefix=prefix, PaginationConfig={"PageSize": LIST_PAGE_SIZE}
    )
    try:
        for page in pages:
            for entry in page.get("Contents", ()):
                key = str(entry["Key"])
                if not key.startswith(prefix) or key.endswith("/"):
                    continue  # a folder marker, or (never from S3) a key outside
                yield Blob(name=key[skip:], modified=entry["LastModified"])
    except Exception as exc:
        errors.append({"kind": "storage", "path": root, "error": describe(exc)})


def _walk(storage: Any, root: str, errors: list[dict[str, Any]]) -> Iterator[Blob]:
    """The file system's walk: one directory listing in memory at a time."""
    pending = [root]
    while pending:
        path = pending.pop()
        try:
            dirs, files = storage.listdir(path)
        except FileNotFoundError:
            continue
        except Exception as exc:
            errors.append({"kind": "storage", "path": path, "error": describe(exc)})
            continue
        for file_name in sorted(files):
            name = posixpath.join(path, file_name)
            try:
                modified = storage.get_modified_time(name)
            except FileNotFoundError:
                continue  # removed meanwhile
            except Exception as exc:
                errors.append({"kind": "blob", "blob": name, "error": describe(exc)})
                continue
            yield Blob(name=name, modified=modified)
        pending.extend(posixpath.join(path, d) for d in sorted(dirs, reverse=True))
