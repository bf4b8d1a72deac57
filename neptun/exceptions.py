"""Domain exceptions raised by services and selectors.

Services never raise DRF exceptions; each API dialect's exception handler turns
these into that dialect's error body.
"""

from __future__ import annotations


class NeptunError(Exception):
    """Base class of every domain error."""

    def __init__(self, message: str, **extra: object) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra


class NotFound(NeptunError):
    """The object does not exist or is not the caller's (indistinguishable)."""


class Conflict(NeptunError):
    """The object exists but cannot be changed now (e.g. live connections)."""


class InvalidInput(NeptunError):
    """The request is malformed; nothing was changed."""


class CollectionNotFound(NotFound):
    """A chat was to link a collection its owner may not use: unknown, another
    user's, or another tenant's global one (indistinguishable). Each dialect answers
    it as it answers an unknown collection in the body."""


class GlobalCollectionRequired(InvalidInput):
    """A ``global_collection`` conversation without a global collection (a contract
    of the conversations dialect only)."""
