"""`python manage.py rotate_vault_keys`: re-encrypt every credential (and every secret another app sealed with the
vault, as incoming webhooks do) under the newest key of VAULT_KEYS.

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
        others = services.reseal_others()
        for kind, resealed in others.items():
            self.stdout.write(
                f"re-sealed {len(resealed.reencrypted)} {kind} secret(s) under key {resealed.key_id!r}; "
                f"{len(resealed.current)} already used it"
            )
        unreadable = [f"{kind} {name}" for kind, resealed in others.items() for name in resealed.unreadable]
        if unreadable and not report.unreadable:
            raise CommandError(
                f"could not be decrypted with the configured keys, left as they are: {', '.join(unreadable)}"
            )
        if report.unreadable:
            raise CommandError(
                f"{len(report.unreadable)} credential(s) could not be decrypted with the configured keys and were "
                f"left as they are: {', '.join(report.unreadable)}"
            )
