"""Create a user (email login) in a tenant."""

from __future__ import annotations

from django.core.management.base import CommandError

from neptun.management.commands._output import JsonCommand
from neptun.models import Tenant, User


class Command(JsonCommand):
    help = "Create a user. The tenant is created if it does not exist."

    def add_arguments(self, parser) -> None:
        super().add_arguments(parser)
        parser.add_argument("--email", required=True)
        parser.add_argument("--password", required=True)
        parser.add_argument("--tenant", default="default", help="Tenant name (default: default)")
        parser.add_argument("--staff", action="store_true", help="Staff with admin access.")
        parser.add_argument("--superuser", action="store_true")

    def handle(self, *args, **options) -> None:
        email = options["email"].strip().lower()
        if User.objects.filter(email=email).exists():
            raise CommandError(f"A user with email {email} already exists.")
        tenant, _ = Tenant.objects.get_or_create(name=options["tenant"])
        user = User.objects.create_user(
            email,
            options["password"],
            tenant=tenant,
            is_staff=options["staff"] or options["superuser"],
            is_superuser=options["superuser"],
        )
        self.emit(
            options,
            {
                "id": user.pk,
                "email": user.email,
                "tenant": tenant.name,
                "tenant_id": tenant.pk,
                "is_staff": user.is_staff,
                "is_superuser": user.is_superuser,
            },
            [f"Created user {user.email} (id {user.pk}) in tenant {tenant.name}."],
        )
