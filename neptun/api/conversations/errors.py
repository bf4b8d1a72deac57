"""Errors of the conversations dialect, in the FastAPI/pydantic shape its clients know.

- 422 ``{"detail": [{"type", "loc", "msg", "input"}, ...]}`` for anything wrong with the
  request (body, query string, headers). ``loc`` starts with where the problem is:
  ``"body"``, ``"query"`` or ``"header"``.
- 401 ``{"detail": "Not authenticated"}`` with ``WWW-Authenticate: Bearer``.
- 404 ``{"detail": "Not Found"}``, 405 ``{"detail": "Method Not Allowed"}``.
- 500 ``{"detail": "Internal Server Error"}``: the exception is logged, never shown.

Views raise; :func:`exception_handler` (the dialect's DRF exception handler) builds the
body and rolls the transaction back.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.http import Http404
from pydantic import ValidationError as PydanticValidationError
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import set_rollback

from neptun import exceptions as domain
from neptun.uploads import UploadRefused

logger = logging.getLogger("neptun.api.conversations")

Loc = Sequence[str | int]


def jsonable(value: Any) -> Any:
    """``value`` if JSON can carry it, else a readable stand-in (uploads: their name)."""
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        name = getattr(value, "name", None)
        return name if isinstance(name, str) else repr(value)
    return value


def error_item(*, type: str, loc: Loc, msg: str, input: Any = None) -> dict[str, Any]:
    """One entry of a 422 body."""
    return {"type": type, "loc": list(loc), "msg": msg, "input": jsonable(input)}


class RequestValidationError(exceptions.APIException):
    """422 with a list of :func:`error_item` entries. Nothing has been changed."""

    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_detail = "Unprocessable Entity"

    def __init__(self, errors: Iterable[dict[str, Any]]) -> None:
        self.errors = list(errors)
        super().__init__()

    @classmethod
    def from_pydantic(cls, exc: PydanticValidationError, *, prefix: Loc) -> RequestValidationError:
        """Pydantic's errors with ``loc`` under ``prefix``; ``url`` dropped, ``ctx`` kept
        only when JSON can carry it."""
        items = []
        for err in exc.errors(include_url=False):
            item = error_item(
                type=err["type"], loc=[*prefix, *err["loc"]], msg=err["msg"], input=err["input"]
            )
            ctx = err.get("ctx")
            if ctx is not None and jsonable(ctx) is ctx:
                item["ctx"] = ctx
            items.append(item)
        return cls(items)


class PayloadTooLarge(exceptions.APIException):
    """413: the body is larger than ``DATA_UPLOAD_MAX_MEMORY_SIZE``, or an upload is
    over ``MAX_UPLOAD_SIZE`` or its owner's quota (the message says which)."""

    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "Request body too large"
    default_code = "request_too_large"


def _drf_validation_items(detail: Any, loc: list[str | int], data: Any) -> list[dict[str, Any]]:
    """Flatten a DRF ``ValidationError.detail`` into 422 entries under ``loc``."""
    if isinstance(detail, dict):
        items = []
        for key, sub in detail.items():
            value = data.get(key) if hasattr(data, "get") else None
            sub_loc = loc if key == "non_field_errors" else [*loc, key]
            items.extend(_drf_validation_items(sub, sub_loc, value))
        return items
    if isinstance(detail, list):
        items = []
        for sub in detail:
            items.extend(_drf_validation_items(sub, loc, data))
        return items
    code = getattr(detail, "code", None) or "value_error"
    if hasattr(data, "get"):  # the whole body (a non-field error): not worth echoing
        data = None
    return [error_item(type=code, loc=loc, msg=str(detail), input=data)]


def _body(detail: Any, status_code: int, headers: dict[str, str] | None = None) -> Response:
    set_rollback()
    response = Response({"detail": detail}, status=status_code)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """The conversations dialect's DRF exception handler (see the module docstring)."""
    if isinstance(exc, UploadRefused):
        exc = PayloadTooLarge(exc.message)
    elif isinstance(exc, RequestDataTooBig):
        exc = PayloadTooLarge()
    if isinstance(exc, RequestValidationError):
        return _body(exc.errors, exc.status_code)
    if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        return _body("Not authenticated", 401, {"WWW-Authenticate": "Bearer"})
    if isinstance(exc, Http404 | exceptions.NotFound | domain.NotFound):
        return _body("Not Found", 404)
    if isinstance(exc, exceptions.MethodNotAllowed):
        return _body("Method Not Allowed", 405)
    if isinstance(exc, exceptions.ValidationError):
        request = context.get("request")
        data = getattr(request, "data", None) if request is not None else None
        return _body(_drf_validation_items(exc.detail, ["body"], data), 422)
    if isinstance(exc, exceptions.ParseError):
        item = error_item(type="json_invalid", loc=["body"], msg=str(exc.detail))
        return _body([item], 422)
    if isinstance(exc, domain.InvalidInput):
        field = exc.extra.get("field")
        loc = ["body", field] if isinstance(field, str) else ["body"]
        item = error_item(
            type="value_error", loc=loc, msg=exc.message, input=exc.extra.get("input")
        )
        return _body([item], 422)
    if isinstance(exc, domain.Conflict):
        return _conflict(exc)
    if isinstance(exc, DjangoPermissionDenied | exceptions.PermissionDenied):
        return _body("Forbidden", 403)
    if isinstance(exc, exceptions.APIException):
        headers = {}
        wait = getattr(exc, "wait", None)  # Throttled's seconds
        if wait is not None:
            headers["Retry-After"] = str(int(wait))
        return _body(str(exc.detail), exc.status_code, headers)
    view = context.get("view")
    logger.exception("unexpected error in %s", type(view).__name__ if view else "view")
    return _body("Internal Server Error", 500)


def _conflict(exc: domain.Conflict) -> Response:
    set_rollback()
    return Response({"detail": exc.message, **{k: jsonable(v) for k, v in exc.extra.items()}}, 409)
