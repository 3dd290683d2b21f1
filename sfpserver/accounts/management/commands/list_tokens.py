"""`python manage.py list_tokens`: every API token's name, role, state and dates; never a secret or a hash.

The `token` column is the masked lookup prefix (`sfp_<prefix>_…`), as in the admin: enough to tell tokens
of the same name apart, useless to authenticate.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.management.base import BaseCommand
from django.utils import timezone

from sfpserver.accounts.models import ApiToken

COLUMNS = ("name", "role", "token", "state", "created", "expires", "revoked", "last used")


class Command(BaseCommand):
    help = "List the API tokens (name, role, state, created, expires, revoked, last used); never a secret."

    def handle(self, *args: Any, **options: Any) -> None:
        now = timezone.now()
        rows = [_row(token, now) for token in ApiToken.objects.order_by("name", "created_at", "id")]
        if not rows:
            self.stdout.write("No tokens. Issue one with `manage.py issue_token NAME --role ROLE`.")
            return
        widths = [max(len(column), *(len(row[i]) for row in rows)) for i, column in enumerate(COLUMNS)]
        for row in (COLUMNS, *rows):
            self.stdout.write("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


def _row(token: ApiToken, now: datetime) -> tuple[str, ...]:
    return (
        token.name,
        token.role,
        f"sfp_{token.prefix}_…",
        token.state(now),
        _when(token.created_at),
        _when(token.expires_at, "never"),
        _when(token.revoked_at),
        _when(token.last_used_at, "never"),
    )


def _when(moment: datetime | None, missing: str = "-") -> str:
    return moment.isoformat(timespec="seconds") if moment is not None else missing
