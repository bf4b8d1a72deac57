"""Structured logs: one JSON line per request and one per deletion.

``LOG_FORMAT=json`` (the default when DEBUG is off) renders every record as one
JSON object; fields passed through ``extra={"event": ..., ...}`` become top-level
keys. ``RequestLogMiddleware`` writes one ``request`` event per HTTP request with
its timing.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponse

from neptun.client_address import client_address

_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}

request_logger = logging.getLogger("neptun.request")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                data[key] = value
        if record.exc_info:
            data["exc"] = self.formatException(record.exc_info)
        return json.dumps(data, default=str)

    converter = staticmethod(time.gmtime)  # UTC; a plain function would be bound as a method


class SkipHttpAccessLines(logging.Filter):
    """Drop a development server's HTTP access lines (``neptun.request`` has already
    logged that request), except for static files, which never reach Django."""

    def filter(self, record: logging.LogRecord) -> bool:
        details = record.args
        if not isinstance(details, dict) or "status" not in details:
            return True
        from django.conf import settings

        static = "/" + settings.STATIC_URL.lstrip("/")
        return str(details.get("path", "")).startswith(static)


class RequestLogMiddleware:
    """Log one line per request: method, path, status, duration, client, user."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response) -> None:
        self.get_response = get_response
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest):
        if iscoroutinefunction(self):
            return self.__acall__(request)
        start = time.perf_counter()
        response = self.get_response(request)
        self._log(request, response, start)
        return response

    async def __acall__(self, request: HttpRequest):
        start = time.perf_counter()
        response = await self.get_response(request)
        self._log(request, response, start)
        return response

    @staticmethod
    def _log(request: HttpRequest, response: HttpResponse, start: float) -> None:
        request_logger.info(
            "%s %s %s",
            request.method,
            request.path,
            response.status_code,
            extra={
                "event": "request",
                "method": request.method,
                "path": request.path,
                "status": response.status_code,
                "duration_ms": round((time.perf_counter() - start) * 1000, 2),
                "remote_addr": client_address(request),
            },
        )
