"""System checks of what keys the API's tokens (`manage.py check`, and every platform process at start:
workers/__main__.py runs the checks tagged STARTUP).

accounts.E001  DEBUG is off and SECRET_KEY is the public default (or empty): anyone could forge what it keys
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, register

STARTUP = "sfp-startup"  # checks run before any platform process starts, not only by `manage.py check`


@register(Tags.security, STARTUP)
def check_secret_key(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    if settings.DEBUG or settings.SECRET_KEY not in ("", settings.INSECURE_SECRET_KEY):
        return []
    return [
        Error(
            "SECRET_KEY is the public default while DEBUG is off: API tokens keyed by it could be forged.",
            hint="Set DJANGO_SECRET_KEY (or DJANGO_SECRET_KEY_FILE) to a long random string, e.g. "
            '`python -c "import secrets; print(secrets.token_urlsafe(50))"`; `make run` and the tests '
            "generate one into .local/. DJANGO_DEBUG=true allows the default for local development only.",
            id="accounts.E001",
        )
    ]
