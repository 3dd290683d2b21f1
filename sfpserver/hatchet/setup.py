"""Django set-up for plain scripts that use the SDK."""

from __future__ import annotations

import os


def ensure_django() -> None:
    """Set Django up unless it is set up already or being set up (the server loading its apps)."""
    from django.apps import apps
    from django.conf import settings

    if apps.ready or (settings.configured and apps.loading):
        return
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
