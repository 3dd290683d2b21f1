"""Event filters, incoming webhooks and pushed events in the Django admin.

Filters are edited here as anywhere else (the same checks as `hatchet.filters`). A webhook's secret is
write-only: the form has a password field that replaces it (sealed with the vault's keys) and never shows it;
the sealed columns are not displayed at all.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest

from sfpserver.hatchet import eventfilters, webhooks
from sfpserver.hatchet.event_errors import InvalidRoutingInput
from sfpserver.hatchet.models import Event, EventFilter, Webhook


class EventFilterForm(forms.ModelForm):
    class Meta:
        model = EventFilter
        fields = ["workflow_name", "scope", "expression", "payload"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        checks = {
            "expression": eventfilters.checked_expression,
            "scope": eventfilters.checked_scope,
            "payload": eventfilters.checked_payload,
        }
        for field, check in checks.items():
            try:
                check(data.get(field))
            except InvalidRoutingInput as exc:
                self.add_error(field, exc.problem)
        return data


@admin.register(EventFilter)
class EventFilterAdmin(admin.ModelAdmin):
    form = EventFilterForm
    list_display = ["workflow_name", "scope", "expression", "is_declarative", "created_at"]
    list_filter = ["is_declarative", "workflow_name"]
    search_fields = ["workflow_name", "scope", "expression"]
    ordering = ["-created_at"]


class WebhookForm(forms.ModelForm):
    new_secret = forms.CharField(
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="the password, API key or signing secret; leave empty to keep the stored one (never shown)",
    )

    class Meta:
        model = Webhook
        fields = [
            "name",
            "source_name",
            "event_key_expression",
            "scope_expression",
            "static_payload",
            "return_event_as_response_payload",
            "auth_type",
            "basic_username",
            "api_key_header_name",
            "hmac_algorithm",
            "hmac_encoding",
            "hmac_signature_header_name",
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not self.instance.secret_key_id and not data.get("new_secret"):
            self.add_error("new_secret", "a new webhook needs its secret")
        for field, rest_name in (("event_key_expression", "eventKeyExpression"), ("scope_expression", None)):
            if data.get(field):
                try:
                    webhooks.checked_expression(data[field], rest_name or "scopeExpression")
                except InvalidRoutingInput as exc:
                    self.add_error(field, exc.problem)
        self._check_auth_fields(data)
        return data

    def _check_auth_fields(self, data: dict[str, Any]) -> None:
        """The fields the authentication type needs, checked as the API checks them (the secret aside)."""
        auth = {
            "username": data.get("basic_username"),
            "headerName": data.get("api_key_header_name"),
            "algorithm": data.get("hmac_algorithm"),
            "encoding": data.get("hmac_encoding"),
            "signatureHeaderName": data.get("hmac_signature_header_name"),
            **dict.fromkeys(("password", "apiKey", "signingSecret"), "checked-apart"),
        }
        fields = {
            "auth.username": "basic_username",
            "auth.headerName": "api_key_header_name",
            "auth.algorithm": "hmac_algorithm",
            "auth.encoding": "hmac_encoding",
            "auth.signatureHeaderName": "hmac_signature_header_name",
        }
        try:
            webhooks.checked_auth(data.get("auth_type"), auth)
        except InvalidRoutingInput as exc:
            self.add_error(fields.get(exc.field, "auth_type"), exc.problem)

    def save(self, commit: bool = True) -> Any:
        webhook = super().save(commit=False)
        if self.cleaned_data.get("new_secret"):
            webhooks.seal_secret(webhook, self.cleaned_data["new_secret"])
        if commit:
            webhook.save()
        return webhook


@admin.register(Webhook)
class WebhookAdmin(admin.ModelAdmin):
    form = WebhookForm
    list_display = ["name", "source_name", "auth_type", "event_key_expression", "scope_expression", "created_at"]
    list_filter = ["source_name", "auth_type"]
    search_fields = ["name", "event_key_expression"]
    ordering = ["-created_at"]


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    list_display = ["key", "scope", "triggering_webhook_name", "created_at"]
    list_filter = ["triggering_webhook_name"]
    search_fields = ["key", "scope"]
    ordering = ["-created_at"]
    readonly_fields = [f.name for f in Event._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
