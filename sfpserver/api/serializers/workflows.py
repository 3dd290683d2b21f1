"""Workflows: pause and unpause (engine/pause.py)."""

from __future__ import annotations

from rest_framework import serializers

from sfpserver.api.serializers.common import StrictSerializer

BEHAVIORS = ("QUEUE", "DROP")


class PauseRequest(StrictSerializer):
    queue_ttl_seconds = serializers.FloatField(
        min_value=0.001, max_value=365 * 86400, help_text="a run held longer than this is cancelled"
    )
    cron_behavior = serializers.ChoiceField(
        BEHAVIORS, default="QUEUE", help_text="QUEUE: a cron firing starts a held run; DROP: it does not fire"
    )
    scheduled_behavior = serializers.ChoiceField(
        BEHAVIORS, default="QUEUE", help_text="QUEUE: a due scheduled run is held; DROP: it waits unfired"
    )


class PauseResponse(serializers.Serializer):
    workflow = serializers.CharField()
    paused = serializers.BooleanField()
    queue_ttl_seconds = serializers.FloatField(allow_null=True)
    cron_behavior = serializers.CharField(allow_null=True)
    scheduled_behavior = serializers.CharField(allow_null=True)
    steps = serializers.IntegerField(help_text="queued steps the pause now holds, or the unpause released")
