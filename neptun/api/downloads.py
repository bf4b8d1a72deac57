"""A file's content, for the dialects that list files (conversations, v1).

The caller has found the file through its dialect's selector, so only its owner (or
the owner's tenant's key) gets here. The content is never read into memory:

- On the local file system it is streamed from storage (``FileResponse``).
- On S3 the answer is a ``302`` to a presigned ``GET`` of the object, valid for
  :data:`PRESIGNED_SECONDS`, so the bucket serves the bytes and no server process is
  held by a large download. Signing is local: no request to the service.

Either way it comes as an attachment with the file's display name, never rendered
inline: an upload's content type is the client's word, and an HTML or SVG upload
shown on Neptun's origin would run in it.
"""

from __future__ import annotations

from django.http import FileResponse, HttpResponseBase, HttpResponseRedirect
from django.utils.http import content_disposition_header
from storages.backends.s3 import S3Storage

from collections_app.models import File
from neptun.exceptions import NotFound

#: How long a presigned download URL is valid (seconds): long enough to start a large
#: download, short enough that a leaked link soon stops working.
PRESIGNED_SECONDS = 300

FILE_NOT_FOUND = "File not found"

#: Largest id the database's bigint columns hold: above it, no file (and no query).
_MAX_ID = 2**63 - 1


def parse_file_id(value: object) -> int | None:
    """The file id in a path segment, or ``None`` when it cannot name a file."""
    text = str(value)
    if not text.isascii() or not text.isdigit() or len(text) > 19:
        return None
    number = int(text)
    return number if 0 < number <= _MAX_ID else None


def file_content(*, file: File) -> HttpResponseBase:
    """The response that delivers ``file``'s content (see the module's docstring)."""
    name = file.blob.name
    if not name:
        raise NotFound(FILE_NOT_FOUND)
    storage = file.blob.storage
    disposition = content_disposition_header(as_attachment=True, filename=file.name or "file")
    if isinstance(storage, S3Storage):
        url = storage.url(
            name,
            parameters={
                "ResponseContentDisposition": disposition,
                "ResponseContentType": file.content_type,
            },
            expire=PRESIGNED_SECONDS,
        )
        return HttpResponseRedirect(url)
    try:
        handle = storage.open(name, "rb")
    except FileNotFoundError as exc:
        raise NotFound(FILE_NOT_FOUND) from exc
    response = FileResponse(handle, content_type=file.content_type)
    response["Content-Disposition"] = disposition
    return response
