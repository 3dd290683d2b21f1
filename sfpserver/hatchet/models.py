"""What the SDK keeps besides the engine's records: pushed events, event filters and incoming webhooks.

A webhook's secret (basic-auth password, API key or HMAC signing secret) is stored only sealed with the vault's
keys (AES-GCM, the webhook's id as associated data): no column holds it in clear, and nothing reads it back
except the check of a delivery (`sfpserver.hatchet.webhooks`).
"""

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
    triggering_webhook_name = models.CharField(max_length=200, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)


class EventFilter(models.Model):
    """Which events start a workflow: for an event pushed with `scope`, each filter of the workflow in that scope
    whose expression holds starts one run, which sees `payload` as `ctx.filter_payload`. A workflow with no
    filter at all is started by every event of its keys (Hatchet's rule)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    workflow_name = models.CharField(max_length=200)
    scope = models.CharField(max_length=200)
    expression = models.TextField()
    payload = models.JSONField(default=dict, blank=True)
    is_declarative = models.BooleanField(default=False)  # from the workflow's default_filters
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["workflow_name", "scope"])]
        verbose_name = "event filter"

    def __str__(self) -> str:
        return f"{self.workflow_name} [{self.scope}] {self.expression}"


class WebhookSource(models.TextChoices):
    GENERIC = "GENERIC"
    GITHUB = "GITHUB"
    LINEAR = "LINEAR"


class WebhookAuthType(models.TextChoices):
    BASIC = "BASIC"
    API_KEY = "API_KEY"
    HMAC = "HMAC"


class Webhook(models.Model):
    """An incoming webhook: a delivery to its public URL that passes its authentication becomes one event."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    name = models.CharField(max_length=200, unique=True)
    source_name = models.CharField(max_length=20, choices=WebhookSource.choices)
    event_key_expression = models.TextField()
    scope_expression = models.TextField(null=True, blank=True)
    static_payload = models.JSONField(null=True, blank=True)
    return_event_as_response_payload = models.BooleanField(default=True)
    auth_type = models.CharField(max_length=10, choices=WebhookAuthType.choices)
    basic_username = models.CharField(max_length=200, blank=True, default="")
    api_key_header_name = models.CharField(max_length=200, blank=True, default="")
    hmac_algorithm = models.CharField(max_length=10, blank=True, default="")
    hmac_encoding = models.CharField(max_length=10, blank=True, default="")
    hmac_signature_header_name = models.CharField(max_length=200, blank=True, default="")
    secret_key_id = models.CharField(max_length=64)
    secret_nonce = models.BinaryField()
    secret_ciphertext = models.BinaryField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.name
