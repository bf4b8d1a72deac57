"""Create an API key for a tenant. The secret is printed once and stored only as a hash."""

from __future__ import annotations

from django.core.management.base import CommandError

from neptun.management.commands._output import JsonCommand
from neptun.models import ApiKey, Tenant


class Command(JsonCommand):
    help = "Create a tenant API key (X-API-Key). The key is shown once; only its hash is kept."

    def add_arguments(self, parser) -> None:
        super().add_arguments(parser)
        parser.add_argument("--tenant", required=True, help="Tenant name")
        parser.add_argument("--name", default="default", help="A label for the key")
        parser.add_argument(
            "--create-tenant", action="store_true", help="Create the tenant if it is missing."
        )

    def handle(self, *args, **options) -> None:
        name = options["tenant"]
        tenant: Tenant | None
        if options["create_tenant"]:
            tenant, _ = Tenant.objects.get_or_create(name=name)
        else:
            tenant = Tenant.objects.filter(name=name).first()
            if tenant is None:
                raise CommandError(f"No tenant named {name!r} (use --create-tenant).")
        key, secret = ApiKey.generate(tenant=tenant, name=options["name"])
        self.emit(
            options,
            {
                "id": key.pk,
                "tenant": tenant.name,
                "name": key.name,
                "prefix": key.prefix,
                "key": secret,
            },
            [
                f"API key {key.name!r} for tenant {tenant.name} (id {key.pk}):",
                f"  {secret}",
                "Store it now: it is not shown again.",
            ],
        )
