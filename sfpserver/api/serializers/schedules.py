"""Schedules: django-celery-beat periodic tasks (the recurring tasks' and the workflows' crons)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from sfpserver.api.serializers.common import StrictSerializer


class ScheduleResponse(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    task = serializers.CharField(help_text="the Celery task beat sends")
    enabled = serializers.BooleanField()
    cron = serializers.CharField(allow_null=True, help_text="five-field cron, or null for an interval schedule")
    timezone = serializers.CharField(allow_null=True)
    interval = serializers.CharField(allow_null=True, help_text="e.g. 'every 10 seconds', or null")
    description = serializers.CharField(allow_blank=True)
    last_run_at = serializers.DateTimeField(allow_null=True)
    total_run_count = serializers.IntegerField()
    operation_id = serializers.UUIDField(allow_null=True, help_text="the recurring task it fires, if any")


class ScheduleUpdateRequest(StrictSerializer):
    enabled = serializers.BooleanField(required=False, help_text="false pauses the schedule")
    cron = serializers.CharField(required=False, max_length=100)
    timezone = serializers.CharField(required=False, max_length=64)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs:
            raise serializers.ValidationError({"body": "give at least one of enabled, cron, timezone"})
        return attrs
