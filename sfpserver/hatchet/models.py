"""What the SDK keeps besides the engine's records: pushed events."""

from __future__ import annotations

import uuid

from django.db import models


class Event(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    key = models.CharField(max_length=300, db_index=True)
    payload = models.JSONField(default=dict, blank=True)
    additional_metadata = models.JSONField(default=dict, blank=True)
    scope = models.CharField(max_length=200, null=True, blank=True)
    priority = models.SmallIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
