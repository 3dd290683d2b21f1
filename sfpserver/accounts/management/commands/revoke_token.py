"""`python manage.py revoke_token NAME`: revokes every active token of that name, at once.

Requests with it are refused from then on, and the live feed closes its open sockets (close code 4401)
within LIVE_TOKEN_RECHECK_SECONDS. An unknown name is an error (exit status 1); a name whose tokens are all
revoked already is not.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from sfpserver.accounts import tokens


class Command(BaseCommand):
    help = "Revoke the API token(s) with this name (see `manage.py list_tokens`)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="the token's name, as issued")

    def handle(self, *args: Any, **options: Any) -> None:
        name = options["name"]
        found, revoked = tokens.revoke_named(name)
        if not found:
            raise CommandError(f"no token is named {name!r} (see `manage.py list_tokens`)")
        if not revoked:
            self.stdout.write(f"Every token named {name!r} was already revoked.")
            return
        self.stdout.write(f"Revoked {revoked} token(s) named {name!r}.")
