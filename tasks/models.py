"""State the sfp operations keep besides the engine's: environment locks."""

from __future__ import annotations

import uuid

from django.db import models


class EnvironmentLock(models.Model):
    """Who holds an environment (a Salesforce org named like its vault credential) and until when.

    `lock` returns the ticket; only that ticket unlocks. An expired lock may be taken over.
    """

    environment = models.CharField(max_length=200, unique=True)
    ticket = models.UUIDField(default=uuid.uuid4)
    reason = models.CharField(max_length=500, blank=True)
    repository = models.CharField(max_length=300, blank=True)
    run_id = models.UUIDField(null=True, blank=True)
    acquired_at = models.DateTimeField()
    expires_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.environment} until {self.expires_at:%Y-%m-%d %H:%M}"
