"""Project-wide views: JSON 404/500 for API paths in each dialect's shape, the home
page, the health check.

Which dialect a path under ``/api/`` belongs to: ``/api/v1…`` is the v1 tenant API,
``/api/chat…``, ``/api/collections…`` and ``/api/files…`` the conversations dialect,
everything else (``/api/users/…``, ``/api/auth/…``, unknown paths) the Neptun
cookie dialect. v1 and conversations answer ``{"detail": "Not Found"}``, the cookie
dialect its own 404 body.
"""

from __future__ import annotations

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, HttpResponsePermanentRedirect, JsonResponse
from django.shortcuts import render
from django.urls import Resolver404, resolve
from django.views.decorators.csrf import csrf_exempt
from django.views.defaults import page_not_found, server_error

DETAIL_PREFIXES = ("/api/v1", "/api/chat", "/api/collections", "/api/files")


def _is_api(request: HttpRequest) -> bool:
    return request.path == "/api" or request.path.startswith("/api/")


def _error_body(request: HttpRequest, status: int, message: str) -> dict:
    if not request.path.startswith(DETAIL_PREFIXES):
        status_message = {404: "Not Found", 500: "Internal Server Error"}[status]
        if status == 404:
            return {
                "statusCode": 404,
                "statusMessage": status_message,
                "data": {"message": message},
            }
        return {"statusCode": status, "statusMessage": status_message, "message": message}
    return {"detail": message}


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _is_api(request):
        return JsonResponse(_error_body(request, 404, "Not Found"), status=404, safe=False)
    return page_not_found(request, exception)


def internal_error(request: HttpRequest) -> HttpResponse:
    if _is_api(request):
        body = _error_body(request, 500, "Internal Server Error")
        return JsonResponse(body, status=500, safe=False)
    return server_error(request)


@csrf_exempt
def api_not_found(request: HttpRequest, rest: str = "") -> HttpResponse:
    """Any path under ``/api/`` no view takes, with any method: the JSON 404 of the
    path's dialect, whatever ``DEBUG`` says (Django's debug page is HTML).

    ``APPEND_SLASH`` still works for a GET or HEAD: ``/api/docs`` redirects to
    ``/api/docs/`` as it would without this catch-all."""
    if (
        settings.APPEND_SLASH
        and request.method in ("GET", "HEAD")
        and not request.path_info.endswith("/")
    ):
        try:
            match = resolve(request.path_info + "/")
        except Resolver404:
            match = None
        if match is not None and match.url_name not in ("api-not-found", "v1-not-found"):
            return HttpResponsePermanentRedirect(request.get_full_path(force_append_slash=True))
    return JsonResponse(_error_body(request, 404, "Not Found"), status=404, safe=False)


def home(request: HttpRequest) -> HttpResponse:
    """``/``: a small page linking the API docs, the admin and the health check."""
    return render(request, "home.html")


def healthz(request: HttpRequest) -> HttpResponse:
    """200 when the database answers, 503 otherwise."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception:
        return JsonResponse({"status": "error", "database": "unavailable"}, status=503)
    return JsonResponse({"status": "ok", "database": connection.vendor})
