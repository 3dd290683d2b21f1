"""Flower's login. Flower lists every task with its arguments and worker, and can revoke tasks and stop
workers, so `python -m workers flower` never starts without one: HTTP basic auth from the setting
FLOWER_BASIC_AUTH (`user:password`, comma-separated for several; or FLOWER_BASIC_AUTH_FILE). `make run`
generates one into .local/run/flower-auth. Flower is handed it through its FLOWER_BASIC_AUTH variable, never on
its command line, which every local user can read.
"""

from __future__ import annotations

import re

ENTRY = re.compile(r"^[^:,\s]+:[^,\s]{8,}$")


class FlowerAuthError(ValueError):
    """Flower would start without a usable login."""


def flower_environ(basic_auth: str) -> dict[str, str]:
    """The environment that makes Flower ask for the login, or FlowerAuthError saying what is missing."""
    if not basic_auth.strip():
        raise FlowerAuthError(
            "Flower needs a login: set FLOWER_BASIC_AUTH=user:password (or FLOWER_BASIC_AUTH_FILE); "
            "Flower shows every task and can revoke them, so it does not start open"
        )
    entries = [entry.strip() for entry in basic_auth.split(",")]
    if not all(ENTRY.match(entry) for entry in entries):
        raise FlowerAuthError(
            "FLOWER_BASIC_AUTH: expected user:password entries, comma-separated, each password at least 8 "
            "characters without spaces or commas"
        )
    return {"FLOWER_BASIC_AUTH": ",".join(entries)}
