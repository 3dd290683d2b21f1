"""Credentials, encrypted at rest, and the audit trail of every access to them.

A Credential row never holds a plain value: `ciphertext` is AES-GCM under the key named by `key_id`, with
the name bound as associated data. Audit rows name credentials and steps by value (not foreign keys that
cascade), so they outlive deleted credentials and pruned runs.
"""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.db import models


class CredentialKind(models.TextChoices):
    SFDX_AUTH_URL = "sfdx_auth_url", "Salesforce SFDX auth URL"
    GITHUB_TOKEN = "github_token", "GitHub token"
    NPM_TOKEN = "npm_token", "npm registry token"
    PACKAGE_INSTALL_KEY = "package_install_key", "Package install key"
    GENERIC = "generic", "Generic secret"


class Credential(models.Model):
    name = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=32, choices=CredentialKind.choices)
    metadata = models.JSONField(default=dict, blank=True)
    fingerprint = models.CharField(max_length=32, help_text="Keyed hash of the value: equal values, equal prints.")
    key_id = models.CharField(max_length=64, editable=False)
    nonce = models.BinaryField(editable=False)
    ciphertext = models.BinaryField(editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.CharField(max_length=200, blank=True, default="")
    rotated_at = models.DateTimeField(null=True, blank=True)
    rotated_by = models.CharField(max_length=200, blank=True, default="")
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class AuditAction(models.TextChoices):
    CREATE = "CREATE"
    REPLACE = "REPLACE"
    UPDATE = "UPDATE"  # metadata only
    DELETE = "DELETE"
    LEASE = "LEASE"
    REENCRYPT = "REENCRYPT"


class CredentialAudit(models.Model):
    """Who did what to which credential, when; for leases also which step attempt on which worker.

    A lease request is one row however many names it asked for: `credential_names` lists them all, and
    `credential_name` shows them joined (cut to its length) for the admin's list.
    """

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    action = models.CharField(max_length=10, choices=AuditAction.choices)
    credential_name = models.CharField(max_length=200, db_index=True)
    credential_names = ArrayField(models.CharField(max_length=200), default=list, blank=True)
    actor = models.CharField(max_length=200, blank=True, default="")
    granted = models.BooleanField(default=True)
    reason = models.TextField(blank=True, default="")
    run_id = models.UUIDField(null=True, blank=True)
    step_id = models.UUIDField(null=True, blank=True, db_index=True)
    step_name = models.CharField(max_length=200, blank=True, default="")
    attempt = models.IntegerField(null=True, blank=True)
    worker_id = models.UUIDField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = "credential audit entry"
        verbose_name_plural = "credential audit"

    def __str__(self) -> str:
        outcome = "granted" if self.granted else "refused"
        return f"{self.action} {self.credential_name} {outcome}"
