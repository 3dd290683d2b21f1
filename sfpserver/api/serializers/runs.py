"""Runs, their steps, attempts and events (snake_case, as the engine's records and the live feed)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from sfpserver.api.serializers.common import ChoiceField, StrictSerializer
from sfpserver.engine import services as engine
from sfpserver.engine.services import AttemptOutcome, EventKind, RunStatus, StepKind, StepStatus, StepView

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


# Response serializers read the engine's read models (services.RunView, StepView, AttemptView, EventView) by
# attribute. Their fields repeat what ModelSerializers over the engine's rows used to infer (bounds, lengths,
# nullability, read-only and required-ness), so the OpenAPI schema clients were generated from is unchanged.


def int32(**options: Any) -> serializers.IntegerField:
    """An integer column's field (Postgres `integer`)."""
    return serializers.IntegerField(min_value=-(2**31), max_value=2**31 - 1, **options)


def int16(**options: Any) -> serializers.IntegerField:
    """A small integer column's field (Postgres `smallint`)."""
    return serializers.IntegerField(min_value=-(2**15), max_value=2**15 - 1, **options)


class RunSummary(serializers.Serializer):
    id = serializers.UUIDField(required=False)
    workflow = serializers.CharField(source="workflow_name")
    status = serializers.ChoiceField(choices=RunStatus.choices, required=False)
    priority = int16(required=False)
    metadata = serializers.JSONField(source="additional_metadata")
    error = serializers.CharField(required=False, allow_blank=True)
    continued_failures = serializers.ListField(
        child=serializers.CharField(max_length=200),
        help_text="steps that failed and were continued past (continue_on_failure): a COMPLETED run with some "
        "completed with failures",
    )
    created_at = serializers.DateTimeField(read_only=True)
    started_at = serializers.DateTimeField(required=False, allow_null=True)
    finished_at = serializers.DateTimeField(required=False, allow_null=True)


class AttemptResponse(serializers.Serializer):
    number = int32()
    outcome = serializers.ChoiceField(choices=AttemptOutcome.choices, required=False)
    worker = serializers.CharField(source="worker_name")
    started_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(required=False, allow_null=True)
    error_type = serializers.CharField(required=False, allow_blank=True, max_length=200)
    error_message = serializers.CharField(required=False, allow_blank=True)
    traceback = serializers.CharField(required=False, allow_blank=True)


class WaitingResponse(serializers.Serializer):
    on = serializers.ChoiceField(choices=["sleep", "event", "condition"])
    until = serializers.DateTimeField(allow_null=True)
    events = serializers.ListField(child=serializers.CharField())


class StepResponse(serializers.Serializer):
    id = serializers.UUIDField(required=False)
    name = serializers.CharField(max_length=200)
    kind = serializers.ChoiceField(choices=StepKind.choices, required=False)
    status = serializers.ChoiceField(choices=StepStatus.choices, required=False)
    parents = serializers.ListField(child=serializers.CharField(max_length=200), required=False)
    queue = serializers.CharField(max_length=200)
    attempt = int32(required=False)
    retries = int32(required=False)
    retry_count = serializers.IntegerField(source="app_retry_count", help_text="retries used of `retries`")
    reassignments = serializers.IntegerField(source="internal_retry_count", help_text="re-queued after a worker died")
    error = serializers.CharField(required=False, allow_blank=True)
    error_type = serializers.CharField(required=False, allow_blank=True, max_length=200)
    continue_on_failure = serializers.BooleanField(
        help_text="when it fails for good, its descendants run anyway and the run does not fail for it"
    )
    output = serializers.JSONField(allow_null=True)
    worker = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField(read_only=True)
    queued_at = serializers.DateTimeField(required=False, allow_null=True)
    started_at = serializers.DateTimeField(required=False, allow_null=True)
    finished_at = serializers.DateTimeField(required=False, allow_null=True)
    attempts = AttemptResponse(many=True)
    waiting = serializers.SerializerMethodField(
        help_text="a durable task evicted at a wait (status QUEUED, holding no slot): what it waits on "
        "(sleep, event, condition: both), until when (its first sleep's deadline) and for which event keys; "
        "null otherwise"
    )

    def get_worker(self, step: StepView) -> str | None:
        return step.worker_name

    @extend_schema_field(WaitingResponse(allow_null=True))
    def get_waiting(self, step: StepView) -> dict[str, Any] | None:
        if not step.durable_wait:
            return None
        until = step.due_at.isoformat().replace("+00:00", "Z") if step.due_at else None
        return {"on": step.waiting_for, "until": until, "events": list(step.wait_events)}


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


class EventsQuery(serializers.Serializer):
    after = serializers.IntegerField(required=False, default=0, min_value=0, max_value=MAX_EVENT_ID)
    kind = ChoiceField(choices=EventKind.choices, required=False)
    step = serializers.UUIDField(required=False, help_text="only this step's events")
    limit = serializers.IntegerField(required=False, default=200, min_value=1, max_value=1000)


class EventResponse(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    run_id = serializers.UUIDField()
    step_id = serializers.UUIDField(allow_null=True)
    attempt = int32(required=False, allow_null=True)
    kind = serializers.ChoiceField(choices=EventKind.choices)
    message = serializers.CharField(required=False, allow_blank=True)
    data = serializers.JSONField(allow_null=True)  # type: ignore[assignment]
    created_at = serializers.DateTimeField(read_only=True)


class EventsResponse(serializers.Serializer):
    results = EventResponse(many=True)
    next_after = serializers.IntegerField(help_text="pass as `after` to read the events that follow")
    has_more = serializers.BooleanField()


class RunActionResponse(serializers.Serializer):
    run_id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=RunStatus.choices)
    steps = serializers.ListField(child=serializers.CharField(), help_text="the steps queued again")

    @staticmethod
    def of(run_id: UUID, steps: list[str]) -> dict[str, Any]:
        return {"run_id": run_id, "status": engine.run_status(run_id), "steps": steps}


class RunStatusResponse(serializers.Serializer):
    run_id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=RunStatus.choices)


class ApprovalRequest(StrictSerializer):
    decision = ChoiceField(choices=["approve", "reject"], help_text="approve: the gate opens; reject: it fails")
    comment = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


class ApprovalResponse(serializers.Serializer):
    run_id = serializers.UUIDField()
    decision = serializers.ChoiceField(choices=["approve", "reject"])
    comment = serializers.CharField(allow_blank=True)
    by = serializers.CharField(help_text="the name of the token that decided")
