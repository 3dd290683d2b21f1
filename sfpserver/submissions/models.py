"""What the task service records beside the engine: submitted tasks and who created which run. The engine
stays free of HTTP and of tokens."""

from __future__ import annotations

import uuid

from django.db import models


class TaskKind(models.TextChoices):
    IMMEDIATE = "immediate"
    SCHEDULED = "scheduled"
    RECURRING = "recurring"


class SubmittedTask(models.Model):
    """A task of sfp server's task API; its id is the operationId.

    immediate: the id is the run's id. scheduled: the id is the engine ScheduledRun's id. recurring: an
    engine cron (a django-celery-beat PeriodicTask named `schedule_name`) that the scheduler leader fires;
    each firing is an engine CronFiring, unique per (schedule, fire time), that started a run.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    type = models.CharField(max_length=100)
    workflow_name = models.CharField(max_length=200)
    kind = models.CharField(max_length=10, choices=TaskKind.choices)
    data = models.JSONField(null=True, blank=True)  # kept for recurring firings only
    metadata = models.JSONField(default=dict, blank=True)
    priority = models.SmallIntegerField(null=True, blank=True)
    options = models.JSONField(default=dict, blank=True)  # lockDuration, retryConfig as submitted
    created_by = models.ForeignKey(
        "accounts.ApiToken", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    run = models.OneToOneField("engine.WorkflowRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    scheduled_run = models.OneToOneField(
        "engine.ScheduledRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    periodic_task = models.OneToOneField(
        "django_celery_beat.PeriodicTask", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    schedule_name = models.CharField(max_length=200, blank=True, default="", db_index=True)
    stopped_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.type} {self.id}"


class RunCreator(models.Model):
    """The token that created a run (the `created_by` of a run), keyed by run id."""

    run = models.OneToOneField("engine.WorkflowRun", primary_key=True, on_delete=models.CASCADE, related_name="+")
    token = models.ForeignKey("accounts.ApiToken", null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
