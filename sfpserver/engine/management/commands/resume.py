"""`python manage.py resume`: end a drain; every queued step that is due is published at once."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from sfpserver.engine import drain


class Command(BaseCommand):
    help = "End a drain: steps start again (graceful update, last step)."

    def handle(self, *args: Any, **options: Any) -> None:
        was_draining = drain.is_draining()
        published = drain.resume()
        state = "resumed" if was_draining else "was not draining"
        self.stdout.write(self.style.SUCCESS(f"{state}: {published} queued step(s) published"))
