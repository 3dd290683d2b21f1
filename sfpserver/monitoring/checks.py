"""System checks for the logging configuration (stable ids monitoring.E00x)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, Tags, register

REDACTING_FILTER = "sfpserver.vault.redaction.RedactingFilter"


@register(Tags.security)
def check_every_log_handler_masks_secrets(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    config: dict[str, Any] = dict(settings.LOGGING or {})
    filters: dict[str, dict[str, Any]] = config.get("filters", {})
    handlers: dict[str, dict[str, Any]] = config.get("handlers", {})
    redacting = {name for name, spec in filters.items() if spec.get("()") == REDACTING_FILTER}
    return [
        Error(
            f"LOGGING handler {name!r} does not carry the vault's RedactingFilter",
            hint=f"add one of {sorted(redacting) or [REDACTING_FILTER]} to its filters: leased secrets would reach it",
            id="monitoring.E001",
        )
        for name, handler in handlers.items()
        if not redacting & set(handler.get("filters", []))
    ]
