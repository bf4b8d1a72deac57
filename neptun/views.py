"""Project-wide views: JSON 404/500 for API paths in each dialect's shape, health check."""

from __future__ import annotations

from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.defaults import page_not_found, server_error

NEPTUN_PREFIXES = ("/api/users/", "/api/auth/")


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def _error_body(request: HttpRequest, status: int, message: str) -> dict:
    if request.path.startswith(NEPTUN_PREFIXES):
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


def healthz(request: HttpRequest) -> HttpResponse:
    """200 when the database answers, 503 otherwise."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception:
        return JsonResponse({"status": "error", "database": "unavailable"}, status=503)
    return JsonResponse({"status": "ok", "database": connection.vendor})
