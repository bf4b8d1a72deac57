"""The dialect's exception handler, exception by exception."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from rest_framework import exceptions as drf

from neptun import exceptions as domain
from neptun.api.session.errors import exception_handler


def handle(exc: Exception):
    response = exception_handler(exc, {"request": None})
    return response.status_code, response.data


@pytest.mark.parametrize(
    ("exc", "status", "body"),
    [
        (
            domain.NotFound("Chat not found"),
            404,
            {
                "statusCode": 404,
                "statusMessage": "Not Found",
                "data": {"message": "Chat not found"},
            },
        ),
        (
            domain.NotFound("Chats not found in project: 7", missing_ids=[7]),
            404,
            {
                "statusCode": 404,
                "statusMessage": "Not Found",
                "data": {"message": "Chats not found in project: 7", "missing_ids": [7]},
            },
        ),
        (
            domain.InvalidInput("Invalid body(chat_ids)"),
            400,
            {
                "statusCode": 400,
                "statusMessage": "Bad Request",
                "message": "Invalid body(chat_ids)",
            },
        ),
        (
            domain.Conflict("busy", active_connections=2),
            409,
            {
                "statusCode": 409,
                "statusMessage": "Conflict",
                "message": "busy",
                "data": {"active_connections": 2},
            },
        ),
        (
            Http404("x"),
            404,
            {"statusCode": 404, "statusMessage": "Not Found", "data": {"message": "Not Found"}},
        ),
        (
            DjangoPermissionDenied(),
            403,
            {"statusCode": 403, "statusMessage": "Forbidden", "message": "Forbidden"},
        ),
        (
            drf.AuthenticationFailed("Bad session"),
            401,
            {"statusCode": 401, "statusMessage": "Unauthorized", "message": "Bad session"},
        ),
        (
            drf.PermissionDenied("No"),
            403,
            {"statusCode": 403, "statusMessage": "Forbidden", "message": "No"},
        ),
        (
            drf.Throttled(wait=5),
            429,
            {
                "statusCode": 429,
                "statusMessage": "Too Many Requests",
                "message": "Too many requests, try again later",
            },
        ),
        (
            drf.ParseError("JSON parse error - Expecting value: line 1 column 1"),
            400,
            {"statusCode": 400, "statusMessage": "Bad Request", "message": "Invalid JSON body"},
        ),
        (
            drf.ValidationError({"title": ["Too long."]}),
            400,
            {
                "statusCode": 400,
                "statusMessage": "Bad Request",
                "message": "Invalid request",
                "data": {"errors": {"title": ["Too long."]}},
            },
        ),
        (
            drf.UnsupportedMediaType("text/plain"),
            415,
            {
                "statusCode": 415,
                "statusMessage": "Unsupported Media Type",
                "message": 'Unsupported media type "text/plain" in request.',
            },
        ),
        (
            ZeroDivisionError("secret detail"),
            500,
            {
                "statusCode": 500,
                "statusMessage": "Internal Server Error",
                "message": "Internal server error",
            },
        ),
    ],
)
def test_handler_maps_each_exception_to_the_dialects_body(exc, status, body):
    assert handle(exc) == (status, body)


def test_401_and_429_carry_their_headers():
    not_authenticated = drf.NotAuthenticated()
    not_authenticated.auth_header = 'Cookie realm="neptun-session"'

    unauthorized = exception_handler(not_authenticated, {"request": None})
    throttled = exception_handler(drf.Throttled(wait=7), {"request": None})

    assert unauthorized.status_code == 401
    assert unauthorized["WWW-Authenticate"] == 'Cookie realm="neptun-session"'
    assert throttled["Retry-After"] == "7"
