"""``manage.py erase_user --email …``: erase a user, with a receipt (dry run by default)."""

from __future__ import annotations

from django.core.management.base import CommandError

from chats.services import DeletionContext
from neptun import erasure
from neptun.management.commands._output import JsonCommand
from neptun.models import DeletionRecord, User


class Command(JsonCommand):
    help = (
        "Erase a user and everything the user owns, and print the erasure receipt. "
        "Without --yes nothing is deleted: the command prints what would go."
    )

    def add_arguments(self, parser) -> None:
        super().add_arguments(parser)
        parser.add_argument("--email", required=True)
        parser.add_argument("--yes", action="store_true", help="Erase (not a dry run).")

    def handle(self, *args, **options) -> None:
        email = options["email"].strip().lower()
        user = User.objects.filter(email__iexact=email).first()
        if user is None:
            erased = erasure.was_erased(email=email)
            raise CommandError(
                "No such user; this address was erased here."
                if erased
                else "No such user (and no erasure of this address)."
            )
        if not options["yes"]:
            counts = erasure.erasure_preview(user=user)
            listed = ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items()))
            self.emit(
                options,
                {"dry_run": True, "counts": counts},
                [
                    f"Would erase {email}: {listed}.",
                    "Dry run: nothing was deleted. Run with --yes to erase.",
                ],
            )
            return
        ctx = DeletionContext(
            actor=None, interface=DeletionRecord.Interface.COMMAND, endpoint="erase_user"
        )
        body = erasure.receipt(erasure.user_erase(user=user, ctx=ctx))
        summary = ", ".join(f"{n} {kind}" for kind, n in sorted(body["counts"].items()))
        self.emit(
            options,
            body,
            [
                f"Erased: {summary}.",
                f"Receipt {body['id']}: {body['status']}.",
            ],
        )
