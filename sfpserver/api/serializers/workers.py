"""Workers with their pool, liveness and the steps they run."""

from __future__ import annotations

from rest_framework import serializers

from sfpserver.api.serializers.common import ChoiceField
from sfpserver.engine.services import WorkerStatus


class WorkersQuery(serializers.Serializer):
    pool = serializers.CharField(required=False, max_length=100)
    status = ChoiceField(choices=WorkerStatus.choices, required=False)


class RunningStepResponse(serializers.Serializer):
    step_id = serializers.UUIDField()
    run_id = serializers.UUIDField()
    step = serializers.CharField()
    attempt = serializers.IntegerField()
    started_at = serializers.DateTimeField(allow_null=True)


# A worker (services.WorkerView) with its liveness. The fields repeat what a ModelSerializer over the engine's
# row used to infer, so the OpenAPI schema is unchanged.
class WorkerResponse(serializers.Serializer):
    id = serializers.UUIDField(required=False, help_text="not shown to application tokens")
    name = serializers.CharField(max_length=200)
    pool = serializers.CharField(max_length=100)
    queues = serializers.ListField(child=serializers.CharField(max_length=200), required=False)
    hostname = serializers.CharField(max_length=200)
    pid = serializers.IntegerField(min_value=-(2**31), max_value=2**31 - 1)
    slots = serializers.IntegerField(min_value=-(2**31), max_value=2**31 - 1)
    status = serializers.ChoiceField(choices=WorkerStatus.choices, required=False)
    live = serializers.BooleanField(help_text="ACTIVE and heard from within ENGINE_WORKER_DEAD_AFTER")
    started_at = serializers.DateTimeField(read_only=True)
    last_heartbeat = serializers.DateTimeField()
    heartbeat_age_seconds = serializers.FloatField()
    stopped_at = serializers.DateTimeField(required=False, allow_null=True)
    running_steps = RunningStepResponse(many=True)
