"""sfp server's task API shapes (camelCase, as sfp server has them)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from django.utils import timezone
from rest_framework import serializers

from sfpserver.api.serializers.common import ChoiceField, StrictSerializer
from sfpserver.submissions import task_types
from sfpserver.submissions.services import Submission
from sfpserver.submissions.task_types import known_types

PRIORITIES = {"low": 1, "medium": 2, "high": 3}
SCHEDULE_TYPES = ("immediate", "scheduled", "recurring")
TASK_STATUSES = ("pending", "active", "completed", "failed", "cancelled")
MAX_LOCK_DURATION_MS = 7 * 24 * 3600 * 1000


class AwareDateTimeField(serializers.DateTimeField):
    """An ISO time that carries its zone (`Z` or `+02:00`): a time without one is refused, not guessed."""

    def enforce_timezone(self, value: datetime) -> datetime:
        if timezone.is_naive(value):
            raise serializers.ValidationError("has no time zone; add one, e.g. Z or +02:00")
        return super().enforce_timezone(value)


class RecurrenceConfigRequest(StrictSerializer):
    cron = serializers.CharField(max_length=100, help_text="five fields: minute hour day-of-month month day-of-week")
    timezone = serializers.CharField(max_length=64, default="UTC", help_text="IANA time zone of the cron")


class SubmitTaskRequest(StrictSerializer):
    type = serializers.ChoiceField(choices=[], help_text="the task type; each maps to a registered workflow")
    data = serializers.DictField(help_text="the task's input: the fields of its type's input model (see each type)")  # type: ignore[assignment]
    metadata = serializers.DictField(required=False, default=dict, help_text="key/values to filter runs by")
    priority = ChoiceField(choices=list(PRIORITIES), required=False)
    scheduleType = ChoiceField(choices=SCHEDULE_TYPES, required=False)
    scheduledFor = AwareDateTimeField(
        required=False, help_text="ISO time with its zone of a one-time scheduled task, in the future"
    )
    recurrenceConfig = RecurrenceConfigRequest(required=False)
    lockDuration = serializers.IntegerField(
        required=False, min_value=0, max_value=MAX_LOCK_DURATION_MS, help_text="ms; recorded, not enforced yet"
    )
    retryConfig = serializers.DictField(required=False, help_text="recorded; retries are set per step")
    continueOnFailure = serializers.ListField(
        child=serializers.CharField(max_length=200),
        required=False,
        max_length=100,
        help_text="names of steps whose failure does not block the steps after them: those run anyway and the run "
        "completes with failures (an extension beyond sfp server's API)",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        types = known_types()
        field = self.fields["type"]
        assert isinstance(field, serializers.ChoiceField)
        field.choices = [(name, _described(name)) for name in types]
        field.error_messages["invalid_choice"] = f'unknown task type "{{input}}"; known types: {", ".join(types)}'

    def validate_scheduledFor(self, value: datetime) -> datetime:
        if value < timezone.now():
            raise serializers.ValidationError("is in the past; a scheduled task needs a future time")
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        declared = attrs.get("scheduleType")
        scheduled, recurring = "scheduledFor" in attrs, "recurrenceConfig" in attrs
        if scheduled and recurring:
            raise serializers.ValidationError(
                {"recurrenceConfig": "a task is either scheduled (scheduledFor) or recurring, not both"}
            )
        if declared == "scheduled" and not scheduled:
            raise serializers.ValidationError({"scheduledFor": "required when scheduleType is 'scheduled'"})
        if declared == "recurring" and not recurring:
            raise serializers.ValidationError({"recurrenceConfig": "required when scheduleType is 'recurring'"})
        if declared == "immediate" and (scheduled or recurring):
            raise serializers.ValidationError(
                {"scheduleType": "an immediate task takes neither scheduledFor nor recurrenceConfig"}
            )
        return attrs

    def submission(self) -> Submission:
        return submission_of(self.validated_data)


def submission_of(data: Mapping[str, Any]) -> Submission:
    """The service's submission from a body `SubmitTaskRequest` accepted (validated_data)."""
    recurrence = data.get("recurrenceConfig") or {}
    options = {key: data[key] for key in ("lockDuration", "retryConfig", "continueOnFailure") if key in data}
    return Submission(
        type=data["type"],
        data=data["data"],
        metadata=data.get("metadata", {}),
        priority=PRIORITIES[data["priority"]] if "priority" in data else None,
        scheduled_for=data.get("scheduledFor"),
        cron=recurrence.get("cron"),
        timezone=recurrence.get("timezone", "UTC"),
        options=options,
        continue_on_failure=tuple(data.get("continueOnFailure", ())),
    )


def _described(name: str) -> str:
    found = task_types.TASK_TYPES[name]
    return f"{found.summary} (workflow {found.workflow})" if found.summary else found.workflow


class SubmitTaskResponse(serializers.Serializer):
    operationId = serializers.UUIDField()
    type = serializers.CharField()


class TaskError(serializers.Serializer):
    message = serializers.CharField()
    stack = serializers.CharField(allow_blank=True, help_text="traceback of the last failed attempt")


class TaskStatusResponse(serializers.Serializer):
    status = serializers.ChoiceField(choices=TASK_STATUSES)
    progress = serializers.IntegerField(min_value=0, max_value=100)
    error = TaskError(allow_null=True)
    runId = serializers.UUIDField(
        allow_null=True, help_text="the run the task started (GET runs/{runId}); null until a scheduled task fires"
    )
    continuedFailures = serializers.ListField(
        child=serializers.CharField(),
        help_text="steps that failed and were continued past (continueOnFailure): a completed task with some "
        "completed with failures",
    )


class TaskResultResponse(TaskStatusResponse):
    result = serializers.JSONField(allow_null=True, help_text="the run's output (per step) once completed")


class RecurringInstanceResponse(serializers.Serializer):
    operationId = serializers.UUIDField(allow_null=True, help_text="the id of the run this firing started")
    fireTime = serializers.DateTimeField()
    status = serializers.ChoiceField(choices=TASK_STATUSES)
    progress = serializers.IntegerField(min_value=0, max_value=100)
