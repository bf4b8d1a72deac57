"""``manage.py apply_retention``: apply the retention policies now (dry run by default)."""

from __future__ import annotations

from django.core.management.base import CommandError

from chats import retention
from neptun.management.commands._output import JsonCommand
from neptun.models import Tenant


class Command(JsonCommand):
    help = (
        "Apply the retention policies: expired temporary chats, inactive conversations, "
        "old deletion records. Without --yes nothing is deleted (dry run): the command "
        "prints what a run would remove. The worker does the same every RETENTION_INTERVAL "
        "seconds."
    )

    def add_arguments(self, parser) -> None:
        super().add_arguments(parser)
        parser.add_argument("--yes", action="store_true", help="Delete (not a dry run).")
        parser.add_argument("--tenant", help="Only this tenant (by name) and its policy.")

    def handle(self, *args, **options) -> None:
        tenant = None
        if options["tenant"]:
            tenant = Tenant.objects.filter(name=options["tenant"]).first()
            if tenant is None:
                raise CommandError(f"No tenant named {options['tenant']!r}.")
        report = retention.retention_apply(tenant=tenant, dry_run=not options["yes"])
        verb = "Would delete" if report.dry_run else "Deleted"
        lines = []
        for scope in report.scopes:
            counts = ", ".join(f"{n} {kind}" for kind, n in sorted(scope.counts.items()) if n)
            lines.append(f"{verb} under the policy of {scope.scope.label}: {counts or 'nothing'}.")
        if report.dry_run:
            lines.append("Dry run: nothing was deleted. Run with --yes to delete.")
        self.emit(options, report.as_dict(), lines)
