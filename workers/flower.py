"""Flower's login. Flower lists every task with its arguments and worker, and can revoke tasks and stop
workers, so `python -m workers flower` never starts without one: HTTP basic auth from the setting
FLOWER_BASIC_AUTH (`user:password`, comma-separated for several; or FLOWER_BASIC_AUTH_FILE). `make run`
generates one into .local/run/flower-auth. Flower is handed it through its FLOWER_BASIC_AUTH variable, never on
its command line, which every local user can read.

Its broker page lists the queues workers report; when they report none (our workers answer no remote
inspection it receives here), it lists the queues it is configured with: the platform
pools' and the SDK workflows' queues (`queues()`, from the registered workflow shapes when the database answers).
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


def queues() -> list[str]:
    """The queues Flower should show: the pools', and every queue a registered workflow's steps use."""
    from django.db import DatabaseError

    from sfpserver.engine import services as engine

    found = {engine.STANDARD_QUEUE, engine.LONG_RUNNING_QUEUE}
    try:
        specs = [definition.spec for definition in engine.list_definitions()]
    except DatabaseError:
        specs = []  # Flower as deployed reads the broker only
    for spec in specs:
        found.update(str(step["queue"]) for step in spec.get("steps", []) if step.get("queue"))
    return sorted(found)
