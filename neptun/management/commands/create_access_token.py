"""Create a bearer access token for a user. Printed once, stored only as a hash."""

from __future__ import annotations

from django.core.management.base import CommandError

from neptun.management.commands._output import JsonCommand
from neptun.models import AccessToken, User


class Command(JsonCommand):
    help = "Create an access token (Authorization: Bearer). Shown once; only its hash is kept."

    def add_arguments(self, parser) -> None:
        super().add_arguments(parser)
        parser.add_argument("--email", required=True)
        parser.add_argument(
            "--days", type=int, default=30, help="Days until it expires (0: never; default 30)"
        )
        parser.add_argument("--name", default="default")

    def handle(self, *args, **options) -> None:
        if options["days"] < 0:
            raise CommandError("--days must be 0 or more.")
        user = User.objects.filter(email=options["email"].strip().lower()).first()
        if user is None:
            raise CommandError(f"No user with email {options['email']}.")
        token, secret = AccessToken.generate(
            user=user, days=options["days"] or None, name=options["name"]
        )
        self.emit(
            options,
            {
                "id": token.pk,
                "email": user.email,
                "expires_at": token.expires_at.isoformat() if token.expires_at else None,
                "token": secret,
            },
            [
                f"Access token for {user.email} (expires {token.expires_at or 'never'}):",
                f"  {secret}",
                "Store it now: it is not shown again.",
            ],
        )
