"""API tokens: a lookup prefix and a keyed hash of the secret part. The secret itself is never stored."""

from __future__ import annotations

from datetime import datetime

from django.db import models


class Role(models.TextChoices):
    OWNER = "owner"  # everything, including credentials
    MEMBER = "member"  # run and read
    APPLICATION = "application"  # automation: sees what it created; the internal worker endpoints


class ApiToken(models.Model):
    name = models.CharField(max_length=200)
    role = models.CharField(max_length=20, choices=Role.choices)
    prefix = models.CharField(max_length=32, unique=True)
    secret_hash = models.CharField(max_length=64)  # hex HMAC-SHA256 of the secret part
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.name} ({self.role}, sfp_{self.prefix}_…)"

    def state(self, now: datetime) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "active"
