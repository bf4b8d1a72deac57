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
