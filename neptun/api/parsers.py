"""Request parsers shared by the dialects."""

from __future__ import annotations

from rest_framework import parsers
from rest_framework.exceptions import ParseError


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, with too deeply nested JSON a parse error (each dialect's 4xx).

    Python's ``json`` raises ``RecursionError`` (not ``ValueError``) on nesting deeper
    than the interpreter's recursion limit, which DRF's parser lets through as a 500.
    """

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError as exc:
            raise ParseError("JSON parse error - nested too deeply") from exc
