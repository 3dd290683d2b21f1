"""Runs, their steps, attempts and events (snake_case, as the engine's records and the live feed)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from sfpserver.api.serializers.common import ChoiceField
from sfpserver.engine.models import Attempt, EventKind, RunEvent, RunStatus, StepRun, WorkflowRun

MAX_EVENT_ID = 2**63 - 1


class RunListQuery(serializers.Serializer):
    workflow = serializers.CharField(required=False, max_length=200)
    status = ChoiceField(choices=RunStatus.choices, required=False)
    created_after = serializers.DateTimeField(required=False)
    created_before = serializers.DateTimeField(required=False)
    metadata = serializers.ListField(
        child=serializers.CharField(max_length=500), required=False, help_text="key:value; repeat to combine"
    )

    def validate_metadata(self, value: list[str]) -> list[tuple[str, str]]:
        pairs = []
        for index, item in enumerate(value):
            key, sep, wanted = item.partition(":")
            if not sep or not key:
                raise serializers.ValidationError({str(index): f"expected key:value, got {item!r}"})
            pairs.append((key, wanted))
        return pairs


class RunSummary(serializers.ModelSerializer):
    workflow = serializers.CharField(source="workflow_name")
    metadata = serializers.JSONField(source="additional_metadata")

    class Meta:
        model = WorkflowRun
        fields: tuple[str, ...] = (
            "id",
            "workflow",
            "status",
            "priority",
            "metadata",
            "error",
            "created_at",
            "started_at",
            "finished_at",
        )


class AttemptResponse(serializers.ModelSerializer):
    worker = serializers.CharField(source="worker_name")

    class Meta:
        model = Attempt
        fields = (
            "number",
            "outcome",
            "worker",
            "started_at",
            "finished_at",
            "error_type",
            "error_message",
            "traceback",
        )


class StepResponse(serializers.ModelSerializer):
    retry_count = serializers.IntegerField(source="app_retry_count", help_text="retries used of `retries`")
    reassignments = serializers.IntegerField(source="internal_retry_count", help_text="re-queued after a worker died")
    worker = serializers.SerializerMethodField()
    attempts = AttemptResponse(many=True)
    output = serializers.JSONField(allow_null=True)

    class Meta:
        model = StepRun
        fields = (
            "id",
            "name",
            "kind",
            "status",
            "parents",
            "queue",
            "attempt",
            "retries",
            "retry_count",
            "reassignments",
            "error",
            "error_type",
            "output",
            "worker",
            "created_at",
            "queued_at",
            "started_at",
            "finished_at",
            "attempts",
        )

    def get_worker(self, step: StepRun) -> str | None:
        return step.worker.name if step.worker is not None else None


class RunDetail(RunSummary):
    input = serializers.JSONField(allow_null=True)
    output = serializers.JSONField(allow_null=True)
    progress = serializers.IntegerField(min_value=0, max_value=100)
    created_by = serializers.CharField(allow_null=True, help_text="name of the token that created the run")
    salesforce_standin = serializers.BooleanField(
        help_text="true when org-bound sfp commands of this run ran on the Salesforce stand-in (SFP_CLI=standin), "
        "not against Salesforce"
    )
    steps = StepResponse(many=True)

    class Meta(RunSummary.Meta):
        fields = (*RunSummary.Meta.fields, "input", "output", "progress", "created_by", "salesforce_standin", "steps")


class EventsQuery(serializers.Serializer):
    after = serializers.IntegerField(required=False, default=0, min_value=0, max_value=MAX_EVENT_ID)
    kind = ChoiceField(choices=EventKind.choices, required=False)
    step = serializers.UUIDField(required=False, help_text="only this step's events")
    limit = serializers.IntegerField(required=False, default=200, min_value=1, max_value=1000)


class EventResponse(serializers.ModelSerializer):
    run_id = serializers.UUIDField()
    step_id = serializers.UUIDField(allow_null=True)
    data = serializers.JSONField(allow_null=True)  # type: ignore[assignment]

    class Meta:
        model = RunEvent
        fields = ("id", "run_id", "step_id", "attempt", "kind", "message", "data", "created_at")


class EventsResponse(serializers.Serializer):
    results = EventResponse(many=True)
    next_after = serializers.IntegerField(help_text="pass as `after` to read the events that follow")
    has_more = serializers.BooleanField()


class RunActionResponse(serializers.Serializer):
    run_id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=RunStatus.choices)
    steps = serializers.ListField(child=serializers.CharField(), help_text="the steps queued again")

    @staticmethod
    def of(run: WorkflowRun, steps: list[str]) -> dict[str, Any]:
        run.refresh_from_db(fields=["status"])
        return {"run_id": run.id, "status": run.status, "steps": steps}


class RunStatusResponse(serializers.Serializer):
    run_id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=RunStatus.choices)
