"""Error bodies of the v1 dialect: always ``{"detail": "..."}``.

Domain errors (:mod:`neptun.exceptions`) and DRF's own exceptions become

- 400 ``{"detail": "...", "errors": {field: [messages]}}`` for a bad body — DRF's
  field errors and a domain :class:`~neptun.exceptions.InvalidInput` naming its
  ``field`` alike (its other extras, e.g. ``max_length``, are added to the body),
- 401 ``{"detail": "Invalid or missing API key"}`` with ``WWW-Authenticate: X-API-Key``,
- 404 ``{"detail": "Chat not found"}`` (or another "… not found"),
- 409 ``{"detail": "...", "active_connections": N}`` from :class:`~neptun.exceptions.Conflict`,
- 500 ``{"detail": "Internal server error"}`` for anything unexpected: logged, never
  shown, and the transaction (if any) rolled back.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.http import Http404
from rest_framework import exceptions as drf
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import set_rollback

from neptun import exceptions as domain

logger = logging.getLogger("neptun.api.v1")

UNAUTHORIZED = "Invalid or missing API key"
AUTH_HEADER = "X-API-Key"


def _flatten(errors: Any, prefix: str = "") -> list[str]:
    """``{"user": ["This field is required."]}`` → ``["user: This field is required."]``."""
    if isinstance(errors, dict):
        out: list[str] = []
        for key, value in errors.items():
            name = key if key != "non_field_errors" else ""
            out.extend(_flatten(value, f"{prefix}.{name}" if prefix and name else name or prefix))
        return out
    if isinstance(errors, list):
        return [line for item in errors for line in _flatten(item, prefix)]
    return [f"{prefix}: {errors}" if prefix else str(errors)]


def _body(detail: str, **extra: Any) -> dict[str, Any]:
    return {"detail": detail, **extra}


def exception_handler(exc: Exception, context: dict) -> Response:
    """The v1 dialect's exception handler (see the module docstring)."""
    set_rollback()
    if isinstance(exc, domain.NotFound):
        return Response(_body(exc.message), status=status.HTTP_404_NOT_FOUND)
    if isinstance(exc, domain.Conflict):
        return Response(_body(exc.message, **exc.extra), status=status.HTTP_409_CONFLICT)
    if isinstance(exc, domain.InvalidInput):
        field = exc.extra.get("field")
        if isinstance(field, str):
            extra = {k: v for k, v in exc.extra.items() if k not in ("field", "input")}
            body = _body(f"Invalid body: {exc.message}", errors={field: [exc.message]}, **extra)
        else:
            body = _body(exc.message, **exc.extra)
        return Response(body, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, Http404):
        return Response(_body("Not Found"), status=status.HTTP_404_NOT_FOUND)
    if isinstance(exc, RequestDataTooBig):
        return Response(
            _body("Request body too large"), status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
        )
    if isinstance(exc, DjangoPermissionDenied):
        exc = drf.PermissionDenied()
    if isinstance(exc, drf.NotAuthenticated | drf.AuthenticationFailed):
        return Response(
            _body(UNAUTHORIZED),
            status=exc.status_code,
            headers={"WWW-Authenticate": getattr(exc, "auth_header", None) or AUTH_HEADER},
        )
    if isinstance(exc, drf.ValidationError):
        lines = _flatten(exc.detail)
        errors = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        return Response(
            _body("Invalid body: " + "; ".join(lines), errors=errors),
            status=status.HTTP_400_BAD_REQUEST,
        )
    if isinstance(exc, drf.APIException):
        headers = {}
        wait = getattr(exc, "wait", None)  # Throttled's seconds
        if wait:
            headers["Retry-After"] = f"{int(wait)}"
        detail = exc.detail if isinstance(exc.detail, str) else "; ".join(_flatten(exc.detail))
        return Response(_body(str(detail)), status=exc.status_code, headers=headers)
    request = context.get("request")
    logger.error(
        "unexpected error in %s %s",
        getattr(request, "method", "?"),
        getattr(request, "path", "?"),
        exc_info=exc,
    )
    return Response(_body("Internal server error"), status=status.HTTP_500_INTERNAL_SERVER_ERROR)
