"""Workers with their pool, liveness and the steps they run."""

from __future__ import annotations

from rest_framework import serializers

from sfpserver.api.serializers.common import ChoiceField
from sfpserver.engine.models import Worker, WorkerStatus


class WorkersQuery(serializers.Serializer):
    pool = serializers.CharField(required=False, max_length=100)
    status = ChoiceField(choices=WorkerStatus.choices, required=False)


class RunningStepResponse(serializers.Serializer):
    step_id = serializers.UUIDField()
    run_id = serializers.UUIDField()
    step = serializers.CharField()
    attempt = serializers.IntegerField()
    started_at = serializers.DateTimeField(allow_null=True)


class WorkerResponse(serializers.ModelSerializer):
    id = serializers.UUIDField(required=False, help_text="not shown to application tokens")
    live = serializers.BooleanField(help_text="ACTIVE and heard from within ENGINE_WORKER_DEAD_AFTER")
    heartbeat_age_seconds = serializers.FloatField()
    running_steps = RunningStepResponse(many=True)

    class Meta:
        model = Worker
        fields = (
            "id",
            "name",
            "pool",
            "queues",
            "hostname",
            "pid",
            "slots",
            "status",
            "live",
            "started_at",
            "last_heartbeat",
            "heartbeat_age_seconds",
            "stopped_at",
            "running_steps",
        )
