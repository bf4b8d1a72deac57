"""``manage.py cleanup_orphans``: find (and with ``--yes`` remove) orphaned data."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any, TextIO, cast

from django.core.management.base import BaseCommand, CommandError, CommandParser

from chats import cleanup
from chats.services import DeletionContext
from neptun.models import DeletionRecord

HELP = """\
Find orphaned data and, with --yes, remove it. Without --yes nothing is deleted
(dry run): the command prints what it would remove.

Kinds (--only KIND, repeatable; default: all):
  null-chats          conversations with a NULL type, older than the grace period,
                      deleted like any chat (messages, links, own files, blobs)
  stale-connections   ChatConnection rows whose heartbeat is older than the grace
                      period (never younger than CHAT_CONNECTION_TTL)
  empty-collections   user-owned collections with no file and no conversation
  loose-files         files with neither chat nor collection. KEPT unless
                      --delete-loose-files: the conversations endpoint with
                      delete_files_and_collections=false leaves exactly such files
                      because their owner asked to keep them. They are counted and
                      reported; with the flag, those older than the grace period go.
  missing-blobs       File rows whose blob is missing from storage: reported;
                      the rows are removed only with --delete-missing-blob-rows.
                      Asks storage about every row: on a big installation, run
                      it less often than the rest (--only missing-blobs)
  orphan-blobs        blobs under this deployment's STORAGE_NAMESPACE/uploads/
                      that no File row references, last modified before the grace
                      period (so an upload in flight is never taken); nothing
                      outside that folder is listed or removed

Grace periods (--older-than, repeatable): DURATION sets every kind, KIND=DURATION
one kind. Durations: 90s, 15m, 24h, 7d, 2w or combined (1d12h). Default 24h.

Works in batches (--batch-size, default 5000), each its own short transaction;
blobs are removed after their rows' batch commits. Memory does not grow with the
number of orphans. Interrupted and run again, it finishes the job. Every run that
deletes something writes one DeletionRecord (interface "command").

Exit status: 0 on success, 1 when something failed (e.g. a blob storage refused
to remove; see "errors"), 2 on bad arguments.
"""

_DURATION = re.compile(r"(\d+)\s*([smhdw])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> timedelta:
    """``90s``, ``15m``, ``24h``, ``7d``, ``2w``, combinations (``1d12h``) or seconds."""
    text = text.strip().lower()
    if text.isdigit():
        return timedelta(seconds=int(text))
    pos, seconds = 0, 0
    for match in _DURATION.finditer(text):
        if match.start() != pos:
            break
        seconds += int(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    if not text or pos != len(text):
        raise ValueError(f"invalid duration {text!r} (examples: 90s, 15m, 24h, 7d, 1d12h)")
    return timedelta(seconds=seconds)


class _PlainProgress:
    """One line per batch: for logs and cron mail (stream is not a terminal)."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.done: dict[str, int] = {}
        self.totals: dict[str, int | None] = {}

    def start(self, kind: str, total: int | None) -> None:
        self.done[kind] = 0
        self.totals[kind] = total

    def advance(self, kind: str, n: int) -> None:
        if not n:
            return
        self.done[kind] += n
        total = self.totals.get(kind)
        of = f"/{total}" if total is not None else ""
        self.stream.write(f"{kind}: {self.done[kind]}{of} checked\n")
        self.stream.flush()

    def finish(self, kind: str) -> None:
        pass


class _RichProgress:
    """A progress bar per kind on a terminal (rich)."""

    def __init__(self, stream: TextIO) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
        )

        self.bar = Progress(
            SpinnerColumn(),
            TextColumn("{task.description:<18}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=Console(file=stream),
            transient=False,
        )
        self.tasks: dict[str, Any] = {}

    def __enter__(self) -> _RichProgress:
        self.bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.bar.stop()

    def start(self, kind: str, total: int | None) -> None:
        self.tasks[kind] = self.bar.add_task(kind, total=total)

    def advance(self, kind: str, n: int) -> None:
        self.bar.advance(self.tasks[kind], n)

    def finish(self, kind: str) -> None:
        task = self.tasks.get(kind)
        if task is not None:
            done = self.bar.tasks[task].completed
            self.bar.update(task, total=max(done, self.bar.tasks[task].total or 0))


class Command(BaseCommand):
    help = HELP

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        from argparse import RawDescriptionHelpFormatter

        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parser.formatter_class = RawDescriptionHelpFormatter
        return parser

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--yes", action="store_true", help="Delete. Without it: dry run, nothing deleted."
        )
        parser.add_argument(
            "--only",
            action="append",
            choices=cleanup.KINDS,
            metavar="KIND",
            help="Sweep only this kind (repeatable). Kinds: " + ", ".join(cleanup.KINDS),
        )
        parser.add_argument(
            "--older-than",
            action="append",
            default=[],
            metavar="[KIND=]DURATION",
            help="Grace period: DURATION for every kind, KIND=DURATION for one (default 24h).",
        )
        parser.add_argument(
            "--batch-size", type=int, default=5000, help="Rows per batch (default 5000)."
        )
        parser.add_argument(
            "--json", action="store_true", help="Print a machine-readable summary on stdout."
        )
        parser.add_argument(
            "--delete-loose-files",
            action="store_true",
            help="Also delete files with neither chat nor collection (kept by default).",
        )
        parser.add_argument(
            "--delete-missing-blob-rows",
            action="store_true",
            help="Delete File rows whose blob is missing (reported only by default).",
        )
        parser.add_argument(
            "--no-progress", action="store_true", help="No progress bar or progress lines."
        )

    def _options(self, options: dict[str, Any]) -> cleanup.SweepOptions:
        grace: dict[str, timedelta] = {}
        per_kind: dict[str, timedelta] = {}
        for value in options["older_than"]:
            kind, sep, duration = value.rpartition("=")
            try:
                parsed = parse_duration(duration)
            except ValueError as exc:
                raise CommandError(f"--older-than: {exc}", returncode=2) from exc
            if not sep:
                grace = dict.fromkeys(cleanup.KINDS, parsed)
            elif kind in cleanup.KINDS:
                per_kind[kind] = parsed
            else:
                raise CommandError(
                    f"--older-than: unknown kind {kind!r} (kinds: {', '.join(cleanup.KINDS)})",
                    returncode=2,
                )
        grace.update(per_kind)
        if options["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1", returncode=2)
        return cleanup.SweepOptions(
            kinds=tuple(options["only"] or cleanup.KINDS),
            grace=grace,
            batch_size=options["batch_size"],
            delete_loose_files=options["delete_loose_files"],
            delete_missing_blob_rows=options["delete_missing_blob_rows"],
        )

    def handle(self, *args: Any, **options: Any) -> None:
        sweep_options = self._options(options)
        # With --json, stdout carries only the summary; progress goes to stderr.
        # OutputWrapper._out is the wrapped stream; the stubs only know __getattr__.
        stream = cast(TextIO, self.stderr._out if options["json"] else self.stdout._out)
        if options["no_progress"]:
            report = self._sweep(sweep_options, options, cleanup.NoProgress())
        elif _isatty(stream):
            with _RichProgress(stream) as progress:
                report = self._sweep(sweep_options, options, progress)
        else:
            report = self._sweep(sweep_options, options, _PlainProgress(stream))

        if options["json"]:
            self.stdout.write(json.dumps(report.as_dict(), indent=2, sort_keys=False))
        else:
            self._print(report, sweep_options)
        if report.failed:
            n = len(report.errors) + report.errors_omitted
            raise CommandError(f"{n} error(s); see the summary above", returncode=1)

    def _sweep(
        self,
        sweep_options: cleanup.SweepOptions,
        options: dict[str, Any],
        progress: cleanup.Progress,
    ) -> cleanup.SweepReport:
        if not options["yes"]:
            return cleanup.orphans_preview(options=sweep_options, progress=progress)
        ctx = DeletionContext(
            actor=None,
            interface=DeletionRecord.Interface.COMMAND,
            endpoint="manage.py cleanup_orphans --yes --only " + ",".join(sweep_options.kinds),
        )
        return cleanup.orphans_delete(options=sweep_options, ctx=ctx, progress=progress)

    def _print(self, report: cleanup.SweepReport, sweep_options: cleanup.SweepOptions) -> None:
        write = self.stdout.write
        if report.dry_run:
            write(self.style.WARNING("Dry run: nothing was deleted. Run with --yes to delete."))
        verb = "would remove" if report.dry_run else "removed"
        write(f"{'kind':<20}{'older than':>11}{'found':>9}{verb:>14}{'kept':>8}")
        for kind, kind_report in report.kinds.items():
            would = kind_report.found - kind_report.kept if report.dry_run else None
            removed = would if would is not None else kind_report.removed
            write(
                f"{kind:<20}{cleanup.human_duration(kind_report.grace):>11}{kind_report.found:>9}"
                f"{removed:>14}{kind_report.kept:>8}"
            )
        totals = {k: v for k, v in report.result.as_dict()["counts"].items() if v}
        if totals:
            write(
                ("With them, " + verb + ": " if report.dry_run else "In all, removed: ")
                + ", ".join(f"{n} {kind}" for kind, n in totals.items())
            )
        loose = report.kinds.get(cleanup.LOOSE_FILES)
        if loose and loose.kept:
            write(
                f"{loose.kept} loose file(s) kept: their owners may have asked to keep them "
                "(use --delete-loose-files to remove them)."
            )
        missing = report.kinds.get(cleanup.MISSING_BLOBS)
        if missing and missing.found:
            write(self.style.WARNING(f"{missing.found} file row(s) have no blob, e.g.:"))
            for example in missing.examples[:5]:
                write(f"  file {example['file_id']}: {example['blob'] or '(empty name)'}")
            if missing.kept:
                write("  Rows kept; --delete-missing-blob-rows removes them.")
        if not report.complete:
            write(self.style.WARNING("Stopped before the end; run again to finish."))
        for error in report.errors:
            write(self.style.ERROR(f"error: {json.dumps(error)}"))
        if report.errors_omitted:
            write(self.style.ERROR(f"... and {report.errors_omitted} more error(s)"))
        if report.record_id is not None:
            write(f"Recorded as deletion record #{report.record_id}.")


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
