"""Tokens in the admin: listed and revoked here, issued with `manage.py issue_token` (so the secret is shown
once, in a terminal, and never passes through a session or a cookie)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from sfpserver.accounts import tokens
from sfpserver.accounts.models import ApiToken


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    ordering = ("-created_at",)  # newest first
    list_display = ("name", "role", "masked", "state", "created_at", "last_used_at", "expires_at", "revoked_at")
    list_filter = ("role",)
    search_fields = ("name", "prefix")
    fields = ("name", "role", "masked", "created_at", "last_used_at", "expires_at", "revoked_at")
    readonly_fields = ("role", "masked", "created_at", "last_used_at", "revoked_at")
    actions = ("revoke",)

    @admin.display(description="token")
    def masked(self, obj: ApiToken) -> str:
        return f"sfp_{obj.prefix}_…"

    @admin.display(description="state")
    def state(self, obj: ApiToken) -> str:
        return obj.state(timezone.now())

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description="Revoke the selected tokens")
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        for token in queryset:
            tokens.revoke(token)
        self.message_user(request, f"Revoked {queryset.count()} token(s).", messages.SUCCESS)
