"""Admin for the vault: credentials are write-only (set or replace a value, never see it); audit is read-only.

Every write goes through the vault's services, so the admin validates, encrypts and audits exactly as the
API does. Neither the value nor the ciphertext is ever rendered.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from sfpserver.vault import kinds, scope, services
from sfpserver.vault.exceptions import CredentialUnreadable, InvalidCredential
from sfpserver.vault.models import Credential, CredentialAudit


class CredentialForm(forms.ModelForm):
    secret = forms.CharField(
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        required=False,
        strip=False,
        help_text="Write-only. Leave empty to keep the current value; a new value replaces (rotates) it.",
    )
    metadata = forms.JSONField(
        required=False,
        initial=dict,
        help_text='For an SFDX auth URL: {"username": …, "org_type": "production|sandbox|scratch|devhub", '
        '"is_devhub": false}; instance_url is taken from the URL when omitted. Where it may go: a GitHub token '
        '{"allowed_hosts": ["github.com"]} (the default), an npm token {"registry": "https://registry.npmjs.org"} '
        '(the default; https only), a generic ssh key {"allowed_hosts": [...]} (none: not usable as a key).',
    )

    class Meta:
        model = Credential
        fields = ("name", "kind", "secret", "metadata")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.errors:
            return data
        secret = data.get("secret") or ""
        metadata = data.get("metadata") or {}
        if self.instance.pk is None:
            if not secret:
                self.add_error("secret", "A new credential needs a value.")
            else:
                self._check(lambda: kinds.check_name(data.get("name")))
                self._check(lambda: kinds.validate(data.get("kind", ""), secret, metadata))
        elif secret:
            self._check(lambda: kinds.validate(self.instance.kind, secret, metadata))
        else:
            self._check(lambda: services.validate_metadata(self.instance.name, metadata))
        return data

    def _check(self, check: Callable[[], object]) -> None:
        try:
            check()
        except InvalidCredential as exc:
            target = exc.field.split(".", 1)[0]
            if target in self.fields:
                self.add_error(target, exc.problem if target == exc.field else str(exc))
            else:
                self.add_error(None, str(exc))
        except CredentialUnreadable:
            self.add_error("secret", "The stored value cannot be decrypted with the configured keys: set a new one.")


@admin.register(Credential)
class CredentialAdmin(admin.ModelAdmin):
    ordering = ("-created_at",)  # newest first
    form = CredentialForm
    list_display = (
        "name",
        "kind",
        "destinations",
        "fingerprint",
        "metadata_summary",
        "created_at",
        "rotated_at",
        "last_used_at",
    )
    list_filter = ("kind",)
    search_fields = ("name",)
    readonly_fields = ("fingerprint", "key_id", "created_at", "created_by", "rotated_at", "rotated_by", "last_used_at")
    actions = ["delete_selected"]

    def get_readonly_fields(self, request: HttpRequest, obj: Credential | None = None) -> tuple[str, ...]:
        """Name and kind are fixed once created (the name is bound into the ciphertext)."""
        return ("name", "kind", *self.readonly_fields) if obj is not None else ()

    def get_fields(self, request: HttpRequest, obj: Credential | None = None) -> tuple[str, ...]:
        if obj is None:
            return ("name", "kind", "secret", "metadata")
        return ("name", "kind", "secret", "metadata", *self.readonly_fields)

    @admin.display(description="metadata")
    def metadata_summary(self, obj: Credential) -> str:
        return json.dumps(obj.metadata, sort_keys=True)

    @admin.display(description="may reach")
    def destinations(self, obj: Credential) -> str:
        """The hosts or registry the credential may be used for (sfpserver/vault/scope.py), defaults applied."""
        return scope.destinations(obj.kind, obj.metadata or {})

    def save_model(self, request: HttpRequest, obj: Credential, form: forms.ModelForm, change: bool) -> None:
        data = form.cleaned_data
        actor = f"admin:{request.user.get_username()}"
        metadata = data.get("metadata") or {}
        if data.get("secret"):
            stored = services.store(obj.kind, obj.name, data["secret"], metadata=metadata, actor=actor)
        else:
            stored = services.update_metadata(obj.name, metadata, actor=actor)
        obj.pk = stored.pk
        obj.refresh_from_db()

    def delete_model(self, request: HttpRequest, obj: Credential) -> None:
        services.delete(obj.name, actor=f"admin:{request.user.get_username()}")

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Credential]) -> None:
        for name in queryset.values_list("name", flat=True):
            services.delete(name, actor=f"admin:{request.user.get_username()}")


@admin.register(CredentialAudit)
class CredentialAuditAdmin(admin.ModelAdmin):
    ordering = ("-id",)  # newest first
    list_display = (
        "created_at",
        "action",
        "credential_name",
        "granted",
        "actor",
        "step_name",
        "attempt",
        "worker_id",
        "reason",
    )
    list_filter = ("action", "granted")
    search_fields = ("credential_name", "actor", "step_name", "=step_id", "=run_id")
    date_hierarchy = "created_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
