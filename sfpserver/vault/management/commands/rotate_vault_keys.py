"""`python manage.py rotate_vault_keys`: re-encrypt every credential under the newest key of VAULT_KEYS.

Rotation: put a new `keyid:base64key` entry first in VAULT_KEYS (keep the old ones), restart, run this,
then remove the old entries. `--new-key-entry ID` prints a fresh entry to add and changes nothing.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from sfpserver.vault import keys, services
from sfpserver.vault.exceptions import VaultKeyError


class Command(BaseCommand):
    help = "Re-encrypt every stored credential under the newest vault key and print how many were changed."
    requires_system_checks: list[str] = []  # it must run to create the first key, and reports key errors itself

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--new-key-entry", metavar="KEYID", help="Print a new random `KEYID:base64key` entry and exit."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            if options["new_key_entry"]:
                self.stdout.write(keys.new_key_entry(options["new_key_entry"]))
                return
            report = services.reencrypt_all()
        except VaultKeyError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            f"re-encrypted {len(report.reencrypted)} credential(s) under key {report.key_id!r}; "
            f"{len(report.current)} already used it"
        )
        if report.unreadable:
            raise CommandError(
                f"{len(report.unreadable)} credential(s) could not be decrypted with the configured keys and were "
                f"left as they are: {', '.join(report.unreadable)}"
            )
