"""`python manage.py issue_token NAME --role ROLE [--expires-in DAYS]`: the new token is the last line."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from sfpserver.accounts import tokens
from sfpserver.accounts.models import Role


class Command(BaseCommand):
    help = "Issue an API token. It is printed once, as the last line, and stored only as a keyed hash."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="what the token is for, e.g. 'ci-pipeline'")
        parser.add_argument("--role", required=True, choices=Role.values)
        parser.add_argument("--expires-in", type=int, default=None, metavar="DAYS", help="days until it expires")

    def handle(self, *args: Any, **options: Any) -> None:
        days = options["expires_in"]
        if days is not None and days < 1:
            raise CommandError("--expires-in: must be at least 1 day")
        try:
            issued = tokens.issue(options["name"], options["role"], days)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        expiry = issued.token.expires_at.isoformat() if issued.token.expires_at else "never"
        self.stdout.write(f"Issued token {issued.token.name!r} with role {issued.token.role}; expires: {expiry}.")
        self.stdout.write("It is shown only now and cannot be recovered; store it in a secret store:")
        self.stdout.write(issued.secret)
