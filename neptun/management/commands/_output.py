"""Shared output helper for Neptun's management commands (``--json`` support)."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand


class JsonCommand(BaseCommand):
    """A command that prints either human lines or one JSON object (``--json``)."""

    def add_arguments(self, parser) -> None:
        parser.add_argument("--json", action="store_true", help="Print one JSON object.")

    def emit(self, options: dict[str, Any], data: dict[str, Any], lines: list[str]) -> None:
        if options.get("json"):
            self.stdout.write(json.dumps(data, indent=2, default=str))
        else:
            for line in lines:
                self.stdout.write(line)
