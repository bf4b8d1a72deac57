"""Pagination shared by the three dialects: ``?limit=&offset=`` with a ceiling.

``limit`` is capped at ``settings.MAX_PAGE_SIZE``: one request never loads more rows
than that, and a ``limit`` no database can hold (``?limit=99999999999999999999``)
is a full page instead of a database error.
"""

from __future__ import annotations

from django.conf import settings
from rest_framework import pagination


class LimitOffsetPagination(pagination.LimitOffsetPagination):
    # A property in place of DRF's class attribute (the stubs' writable ``int | None``):
    # read per request, so tests and deployments can change it.
    @property
    def max_limit(self) -> int:  # type: ignore[override]
        return int(settings.MAX_PAGE_SIZE)
