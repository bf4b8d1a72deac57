"""Error bodies of the Neptun (cookie-session) dialect and its exception handler.

Two shapes, exactly as the dialect's specs show them:

- 404: ``{"statusCode": 404, "statusMessage": "Not Found", "data": {"message": ...}}``
  (``data`` may carry more, e.g. ``missing_ids`` of a batch deletion);
- everything else: ``{"statusCode": N, "statusMessage": "...", "message": "..."}``
  (a 400 about a body's fields may add ``data.errors``; a domain
  :class:`~neptun.exceptions.InvalidInput` that names its ``field`` is such a 400:
  ``Invalid body(field)`` with ``data.errors`` and its other extras).

A 500 never carries details: the exception is logged, the client reads
"Internal server error". Every error response rolls the request's transaction
back (``set_rollback``), like DRF's own handler.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from django.core import exceptions as django_exceptions
from django.http import Http404
from rest_framework import exceptions as drf
from rest_framework.response import Response
from rest_framework.views import set_rollback

from neptun import exceptions as domain

logger = logging.getLogger("neptun.api.session")


#: Reason phrases (RFC 9110) pinned here: Python 3.13 renamed some of ``HTTPStatus``'s.
STATUS_MESSAGES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    406: "Not Acceptable",
    409: "Conflict",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    429: "Too Many Requests",
    500: "Internal Server Error",
}


def error_body(status: int, message: str, data: dict[str, Any] | None = None) -> dict[str, Any]:
    """The dialect's error body for ``status``."""
    phrase = STATUS_MESSAGES.get(status) or HTTPStatus(status).phrase
    body: dict[str, Any] = {"statusCode": status, "statusMessage": phrase}
    if status == 404:
        body["data"] = {"message": message, **(data or {})}
        return body
    body["message"] = message
    if data:
        body["data"] = data
    return body


def _detail_text(exc: drf.APIException) -> str:
    detail = exc.detail
    if isinstance(detail, list | dict):
        return exc.default_detail if isinstance(exc.default_detail, str) else "Invalid request"
    return str(detail)


def _response(
    status: int,
    message: str,
    data: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    set_rollback()
    return Response(error_body(status, message, data), status=status, headers=headers)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """Turn any exception raised in a view of this dialect into its error body."""
    # Domain errors raised by services and selectors.
    if isinstance(exc, domain.NotFound):
        return _response(404, exc.message, dict(exc.extra))
    if isinstance(exc, domain.InvalidInput):
        field = exc.extra.get("field")
        if isinstance(field, str):
            extra = {k: v for k, v in exc.extra.items() if k not in ("field", "input")}
            data = {"errors": {field: [exc.message]}, **extra}
            return _response(400, f"Invalid body({field})", data)
        return _response(400, exc.message, dict(exc.extra) or None)
    if isinstance(exc, domain.Conflict):
        return _response(409, exc.message, dict(exc.extra) or None)

    # Django's own exceptions.
    if isinstance(exc, Http404):
        return _response(404, "Not Found")
    if isinstance(exc, django_exceptions.PermissionDenied):
        return _response(403, "Forbidden")
    if isinstance(exc, django_exceptions.RequestDataTooBig):
        return _response(413, "Request body too large")

    # Django REST framework's exceptions.
    if isinstance(exc, drf.NotAuthenticated | drf.AuthenticationFailed):
        # APIView.handle_exception sets auth_header when the authenticator has one.
        auth_header = getattr(exc, "auth_header", None)
        headers = {"WWW-Authenticate": auth_header} if auth_header else {}
        message = (
            "Authentication required: log in to get a neptun-session cookie"
            if isinstance(exc, drf.NotAuthenticated)
            else _detail_text(exc)
        )
        return _response(401, message, headers=headers)
    if isinstance(exc, drf.PermissionDenied):
        return _response(403, _detail_text(exc))
    if isinstance(exc, drf.Throttled):
        wait = exc.wait  # type: ignore[attr-defined]  # the stubs lack Throttled.wait
        headers = {"Retry-After": str(int(wait))} if wait is not None else {}
        return _response(429, "Too many requests, try again later", headers=headers)
    if isinstance(exc, drf.ParseError):
        return _response(400, "Invalid JSON body")
    if isinstance(exc, drf.ValidationError):
        return _response(400, "Invalid request", {"errors": exc.detail})
    if isinstance(exc, drf.NotFound):
        return _response(404, _detail_text(exc))
    if isinstance(exc, drf.APIException):
        return _response(exc.status_code, _detail_text(exc))

    # Anything else is a bug: log it, tell the client nothing about it.
    request = context.get("request")
    logger.exception(
        "unhandled error in %s %s",
        getattr(request, "method", "?"),
        getattr(request, "path", "?"),
        exc_info=exc,
    )
    return _response(500, "Internal server error")
