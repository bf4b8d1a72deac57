"""What a deletion is told and what it answers: the context and the result.

Every entry point of the package takes a :class:`DeletionContext` (who deletes,
through which door) and returns a :class:`DeletionResult`, whose counts use the
vocabulary below: the same keys in a response, a preview and a ``DeletionRecord``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from chats.models import ConversationType
from neptun.models import User

if TYPE_CHECKING:
    from chats.deletion.sql import Tally

#: Conversation-type keys used in counts; ``None`` (NULL type) is reported as "null".
TYPE_KEYS: dict[str | None, str] = {
    ConversationType.REGULAR: "regular",
    ConversationType.USER_FILES: "user_files",
    ConversationType.GLOBAL_COLLECTION: "global_collection",
    None: "null",
}

#: Kinds every result and record reports, zero included ("blobs" comes after them).
COUNT_KINDS = ("chats", "messages", "files", "collections", "links", "connections", "projects")

#: ``progress(done, total)`` is called after each committed batch of a large purge.
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class DeletionContext:
    """Who deletes, and through which door. Recorded on the DeletionRecord.

    ``record_id``: a record written beforehand (a background job's), which the
    deletion then fills instead of writing its own. ``progress``: told after each
    committed batch of a large purge, as the ``progress`` argument is.
    """

    actor: User | None
    interface: str
    endpoint: str = ""
    remote_addr: str | None = None
    record_id: int | None = None
    progress: Progress | None = None


@dataclass
class DeletionResult:
    """Counts by kind, chats by conversation type, and what could not be done."""

    counts: Counter[str] = field(default_factory=Counter)
    by_type: Counter[str] = field(default_factory=Counter)
    errors: list[dict[str, Any]] = field(default_factory=list)
    record_id: int | None = None
    #: When the deletion was recorded (its record's ``created_at``).
    deleted_at: datetime | None = None
    dry_run: bool = False
    batches: int = 1
    #: Cascade counts a chat ``DELETE`` made that nobody has read yet (PostgreSQL):
    #: the next write of the record reads them into ``counts`` (:mod:`.audit`).
    tally: Tally | None = field(default=None, repr=False, compare=False)

    def as_dict(self) -> dict[str, Any]:
        counts = {kind: self.counts.get(kind, 0) for kind in (*COUNT_KINDS, "blobs")}
        for kind, n in self.counts.items():
            counts.setdefault(kind, n)
        return {
            "counts": counts,
            "by_type": {key: self.by_type.get(key, 0) for key in TYPE_KEYS.values()},
            "errors": list(self.errors),
            "dry_run": self.dry_run,
        }
