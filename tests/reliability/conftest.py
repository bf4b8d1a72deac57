"""PostgreSQL-only reliability tests: real concurrent transactions (threads, each with
its own connection), real server processes, real storage failures."""

from __future__ import annotations

import pytest
from django.db import connection

pytestmark = pytest.mark.postgres


def close_thread_connection() -> None:
    """Threads open their own connections; each closes its own when done."""
    connection.close()
