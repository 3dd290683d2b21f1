"""The engine's records in the Django admin: browsable, read-only (a run's state changes only through
sfpserver.engine.lifecycle, which keeps its invariants: fencing, joins, attempt history), with admin
actions that call the lifecycle: cancel runs, retry their failed steps, cancel steps and scheduled runs, pause and
unpause workflows (engine/pause.py)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from sfpserver.engine import lifecycle, pause, schedules
from sfpserver.engine.exceptions import EngineError
from sfpserver.engine.models import (
    TERMINAL_RUN_STATUSES,
    Attempt,
    RunEvent,
    ScheduledRun,
    StepRun,
    Worker,
    WorkflowDefinition,
    WorkflowRun,
)

OPERATE_PERMISSION = "engine.change_workflowrun"  # who may cancel and retry from the admin


class ReadOnly:
    """Viewable, never added or edited by hand."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class Operates:
    """Admin actions marked `permissions=["operate"]` need OPERATE_PERMISSION."""

    def has_operate_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.has_perm(OPERATE_PERMISSION))


class StepInline(ReadOnly, admin.TabularInline):
    model = StepRun
    fields = ("name", "status", "attempt", "app_retry_count", "retries", "worker", "started_at", "finished_at", "error")
    readonly_fields = fields
    ordering = ("created_at",)
    show_change_link = True
    extra = 0


class AttemptInline(ReadOnly, admin.TabularInline):
    model = Attempt
    fields = ("number", "outcome", "worker_name", "started_at", "finished_at", "error_type", "error_message")
    readonly_fields = fields
    extra = 0


@admin.register(WorkflowRun)
class WorkflowRunAdmin(ReadOnly, Operates, admin.ModelAdmin):
    ordering = ("-created_at",)  # newest first
    list_display = ("id", "workflow_name", "status", "created_at", "started_at", "finished_at")
    list_filter = ("status", "workflow_name")
    search_fields = ("=id", "workflow_name")
    date_hierarchy = "created_at"
    inlines = (StepInline,)
    actions = ("cancel", "retry_failed")

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """A finished run may be deleted (as retention does); a live one never, its workers still report."""
        return (
            obj is not None
            and obj.status in TERMINAL_RUN_STATUSES
            and super(ReadOnly, self).has_delete_permission(request, obj)
        )

    @admin.action(description="Cancel the selected runs", permissions=["operate"])
    def cancel(self, request: HttpRequest, queryset: QuerySet[WorkflowRun]) -> None:
        cancelled = sum(1 for run in queryset if lifecycle.cancel_run(run.id, "cancelled from the admin"))
        self.message_user(request, f"Cancelled {cancelled} of {queryset.count()} run(s).", messages.SUCCESS)

    @admin.action(description="Retry the failed steps of the selected runs", permissions=["operate"])
    def retry_failed(self, request: HttpRequest, queryset: QuerySet[WorkflowRun]) -> None:
        for run in queryset:
            try:
                steps = lifecycle.retry_failed(run.id)
            except EngineError as exc:
                self.message_user(request, f"Run {run.id}: {exc}", messages.WARNING)
            else:
                self.message_user(request, f"Run {run.id}: re-running {', '.join(steps)}.", messages.SUCCESS)


@admin.register(StepRun)
class StepRunAdmin(ReadOnly, Operates, admin.ModelAdmin):
    ordering = ("-created_at",)  # newest first
    list_display = ("name", "run", "status", "attempt", "queue", "worker", "started_at", "finished_at")
    list_filter = ("status", "queue")
    search_fields = ("=id", "=run__id", "name")
    list_select_related = ("run", "worker")
    inlines = (AttemptInline,)
    actions = ("cancel",)

    @admin.action(description="Cancel the selected steps and what depends on them", permissions=["operate"])
    def cancel(self, request: HttpRequest, queryset: QuerySet[StepRun]) -> None:
        cancelled = sum(1 for step in queryset if lifecycle.cancel_step(step.id, "cancelled from the admin"))
        self.message_user(request, f"Cancelled {cancelled} of {queryset.count()} step(s).", messages.SUCCESS)


@admin.register(Attempt)
class AttemptAdmin(ReadOnly, admin.ModelAdmin):
    ordering = ("-started_at",)  # newest first
    list_display = ("step", "number", "outcome", "worker_name", "started_at", "finished_at", "error_type")
    list_filter = ("outcome",)
    search_fields = ("=step__id", "=step__run__id", "worker_name")
    list_select_related = ("step",)


@admin.register(Worker)
class WorkerAdmin(ReadOnly, admin.ModelAdmin):
    ordering = ("-started_at",)  # newest first
    list_display = ("name", "pool", "status", "labels", "hostname", "pid", "slots", "last_heartbeat", "started_at")
    list_filter = ("pool", "status")
    search_fields = ("name", "hostname", "labels")


@admin.register(RunEvent)
class RunEventAdmin(ReadOnly, admin.ModelAdmin):
    ordering = ("-id",)  # newest first
    list_display = ("id", "run", "step", "attempt", "kind", "message", "created_at")
    list_filter = ("kind",)
    search_fields = ("=run__id",)
    list_select_related = ("run", "step")


@admin.register(ScheduledRun)
class ScheduledRunAdmin(ReadOnly, Operates, admin.ModelAdmin):
    ordering = ("-created_at",)  # newest first
    list_display = ("id", "workflow_name", "trigger_at", "status", "run", "created_at")
    list_filter = ("status", "workflow_name")
    actions = ("cancel",)

    @admin.action(description="Cancel the selected scheduled runs", permissions=["operate"])
    def cancel(self, request: HttpRequest, queryset: QuerySet[ScheduledRun]) -> None:
        cancelled = sum(1 for scheduled in queryset if schedules.cancel_scheduled_run(scheduled.id))
        self.message_user(request, f"Cancelled {cancelled} of {queryset.count()} scheduled run(s).", messages.SUCCESS)


ADMIN_PAUSE_TTL = 86400.0  # a run held by a pause from the admin is cancelled after a day


@admin.register(WorkflowDefinition)
class WorkflowDefinitionAdmin(ReadOnly, Operates, admin.ModelAdmin):
    ordering = ("-updated_at",)  # newest first
    list_display = ("name", "paused", "updated_at")
    actions = ("pause", "unpause")

    @admin.display(description="paused", boolean=True)
    def paused(self, obj: WorkflowDefinition) -> bool:
        return pause.is_paused(obj.name)

    @admin.action(description="Pause the selected workflows (new runs wait, at most a day)", permissions=["operate"])
    def pause(self, request: HttpRequest, queryset: QuerySet[WorkflowDefinition]) -> None:
        for definition in queryset:
            held = pause.pause(definition.name, ADMIN_PAUSE_TTL)
            self.message_user(request, f"Paused {definition.name} ({held} queued step(s) held).", messages.SUCCESS)

    @admin.action(description="Unpause the selected workflows (held runs start, oldest first)", permissions=["operate"])
    def unpause(self, request: HttpRequest, queryset: QuerySet[WorkflowDefinition]) -> None:
        for definition in queryset:
            released = pause.unpause(definition.name)
            self.message_user(request, f"Unpaused {definition.name} ({released} step(s) released).", messages.SUCCESS)
