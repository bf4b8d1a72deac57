"""Upload limits and validation: what an upload must satisfy before its blob is written.

Uploads are stored by one endpoint, ``POST /api/files`` (conversations dialect), and
by the admin's file form; any other endpoint that parses a multipart body (v1's
default parsers) streams its file parts to temporary files only. All of them are
bounded here:

- **Size** (``MAX_UPLOAD_SIZE``, bytes, default 50 MiB): :class:`UploadLimitHandler`
  is the first of ``FILE_UPLOAD_HANDLERS``. It refuses a multipart request whose
  ``Content-Length`` already exceeds :func:`max_request_body` before reading a byte
  of it, and otherwise counts the file bytes as they stream in and stops the parse
  as soon as they pass the limit, removing the partial temporary file. Either way
  the dialect answers 413 and no blob, row or temporary file is left. Under ASGI,
  Django reads a whole body into a temporary file before any handler runs, so
  :class:`RequestBodyLimit` (wrapped around the ASGI app) refuses a body over
  :func:`max_request_body` first — by its ``Content-Length`` without reading it, or
  as soon as a chunked body passes it.
- **Quota** (``UPLOAD_QUOTA_PER_USER``, bytes of stored files per user, default
  1 GiB, ``0`` = off): :func:`check_quota` runs before the blob is written and again,
  under a lock on the owner's row, in the transaction that inserts the row.
- **Content type**: a part's ``Content-Type`` must be ``type/subtype`` (RFC 9110
  tokens) and fit ``File.content_type`` (200 characters): :func:`validate_content_type`.
- **Names**: the display name (``File.name``) is the client's name with control
  characters removed (Django already cuts it to 255 characters, the field's length);
  the stored name (:func:`storage_file_name`) is cut to 247 UTF-8 bytes, keeping the
  extension, so that with the 8 characters Django appends on a name collision it
  still fits a file system's 255-byte name limit. It sits under
  :func:`upload_root`, the deployment's own folder of storage.
"""

from __future__ import annotations

import json
import os
import re
import unicodedata
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.core.files.uploadhandler import FileUploadHandler
from django.db.models import Sum

#: Room in a multipart body for part headers and boundaries, on top of the file
#: bytes and the non-file fields (``DATA_UPLOAD_MAX_MEMORY_SIZE``).
MULTIPART_OVERHEAD = 1024 * 1024

#: Longest stored file name in UTF-8 bytes: 255 (the usual file-system limit of one
#: path component) less the ``_`` and 7 random characters Django's storage adds to
#: a name that is taken.
MAX_STORED_NAME_BYTES = 255 - 8

#: An extension longer than this (in bytes) is treated as part of the name.
MAX_EXTENSION_BYTES = 16

#: ``File.content_type``'s length.
MAX_CONTENT_TYPE_LENGTH = 200

_MIME_CHARS = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_CONTENT_TYPE = re.compile(rf"{_MIME_CHARS}/{_MIME_CHARS}")
_INVALID_STORED = re.compile(r"[^-\w.]")


class UploadRefused(RequestDataTooBig):
    """413: an upload over a limit. A ``RequestDataTooBig``, so every dialect's
    exception handler (and Django's own) already answers it as too large."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UploadTooLarge(UploadRefused):
    def __init__(self) -> None:
        super().__init__(f"File too large: an upload may have at most {max_upload_size()} bytes")


class UploadQuotaExceeded(UploadRefused):
    def __init__(self, used: int, quota: int) -> None:
        super().__init__(
            f"Upload quota exceeded: {used} of {quota} bytes in use, no room for this file"
        )


def max_upload_size() -> int:
    return int(settings.MAX_UPLOAD_SIZE)


def max_request_body() -> int:
    """The largest request body any endpoint can accept: one upload at the limit,
    the non-file fields Django reads into memory, and multipart framing."""
    fields = settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 0
    return max_upload_size() + fields + MULTIPART_OVERHEAD


class UploadLimitHandler(FileUploadHandler):
    """First upload handler: refuses an over-limit multipart body before or while it
    streams, so the handlers after it never hold more than ``MAX_UPLOAD_SIZE`` bytes.

    The limit counts every file part of the request together.
    """

    def __init__(self, request: Any = None) -> None:
        super().__init__(request)
        self.received = 0

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        if content_length and content_length > max_request_body():
            raise UploadTooLarge()
        return None

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        self.received += len(raw_data)
        if self.received > max_upload_size():
            self._interrupt_others()
            raise UploadTooLarge()
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None

    def _interrupt_others(self) -> None:
        """Let the other handlers drop the file in progress (the temporary-file
        handler removes its file) before the exception ends the parse."""
        for handler in getattr(self.request, "upload_handlers", ()):
            if handler is not self:
                handler.upload_interrupted()


def stored_bytes(owner_id: int) -> int:
    from collections_app.models import File

    return File.objects.filter(owner_id=owner_id).aggregate(total=Sum("size"))["total"] or 0


def quota_enabled() -> bool:
    return int(settings.UPLOAD_QUOTA_PER_USER or 0) > 0


def check_quota(owner_id: int, size: int) -> None:
    """Raise :class:`UploadQuotaExceeded` if ``size`` more bytes do not fit the
    owner's quota (``UPLOAD_QUOTA_PER_USER``; ``0`` is no quota)."""
    if not quota_enabled():
        return
    quota = int(settings.UPLOAD_QUOTA_PER_USER)
    used = stored_bytes(owner_id)
    if used + size > quota:
        raise UploadQuotaExceeded(used, quota)


def validate_content_type(value: str) -> str | None:
    """The reason ``value`` is not a storable content type, or ``None`` if it is.
    An empty value is fine (it is stored as ``application/octet-stream``)."""
    if not value:
        return None
    if len(value) > MAX_CONTENT_TYPE_LENGTH:
        return f"Content type too long (at most {MAX_CONTENT_TYPE_LENGTH} characters)"
    if not _CONTENT_TYPE.fullmatch(value):
        return "Content type must be type/subtype, e.g. text/plain"
    return None


def display_name(value: str) -> str:
    """A client's file name as shown: control characters (NUL included, which
    PostgreSQL cannot store) removed, at most ``File.name``'s 255 characters."""
    cleaned = "".join(ch for ch in value if unicodedata.category(ch) != "Cc").strip()
    return cleaned[:255]


def upload_root() -> str:
    """The folder of storage that holds this deployment's uploads:
    ``<STORAGE_NAMESPACE>/uploads`` (``uploads`` with an empty namespace, the layout
    from before namespaces). Every new blob is written under it, and the orphan sweep
    lists and removes nothing outside it, so deployments that share a media root or
    a bucket never sweep each other's blobs. Rows written before keep their names."""
    namespace = settings.STORAGE_NAMESPACE
    return f"{namespace}/uploads" if namespace else "uploads"


def _cut_utf8(value: str, limit: int) -> str:
    return value.encode()[:limit].decode("utf-8", "ignore")


def storage_file_name(filename: str) -> str:
    """The last component of a blob's storage name, derived from the client's name:
    only the characters Django's storage keeps, at most ``MAX_STORED_NAME_BYTES``
    UTF-8 bytes, the extension kept; ``upload`` when nothing usable is left."""
    name = _INVALID_STORED.sub("", os.path.basename(str(filename)).strip().replace(" ", "_"))
    stem, ext = os.path.splitext(name)
    if not ext and stem.startswith("."):  # ".txt": an extension without a name
        stem, ext = "", stem
    if not ext.strip("."):
        ext = ""
    if len(ext.encode()) > MAX_EXTENSION_BYTES:
        stem, ext = name, ""
    stem = _cut_utf8(stem, MAX_STORED_NAME_BYTES - len(ext.encode()))
    if not stem.strip("."):
        stem = "upload"
    return stem + ext


# ---- ASGI ------------------------------------------------------------------------

_COOKIE_DIALECT = ("/api/users", "/api/auth")


def _too_large_body(path: str) -> bytes:
    message = "Request body too large"
    if any(path == prefix or path.startswith(prefix + "/") for prefix in _COOKIE_DIALECT):
        body: dict[str, Any] = {
            "statusCode": 413,
            "statusMessage": "Content Too Large",
            "message": message,
        }
    else:
        body = {"detail": message}
    return json.dumps(body).encode()


class RequestBodyLimit:
    """ASGI middleware: a body over :func:`max_request_body` is answered 413 (in the
    shape of the dialect its path belongs to) before Django spools it to disk."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = max_request_body()
        length = _content_length(scope)
        if length is not None and length > limit:
            await _send_413(scope, send)
            return None
        received = 0
        refused = False

        async def limited_receive():
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    refused = True
                    await _send_413(scope, send)
                    # Django stops reading and answers nothing more.
                    return {"type": "http.disconnect"}
            return message

        return await self.app(scope, limited_receive, send)


def _content_length(scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _send_413(scope, send) -> None:
    body = _too_large_body(scope.get("path", ""))
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
