"""Schedules are django-celery-beat periodic tasks: read them, pause them, change their cron."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from django.db import transaction
from django_celery_beat.models import PeriodicTask

from sfpserver.submissions import cron as crons
from sfpserver.submissions.exceptions import InvalidSubmissionError, TaskStateError
from sfpserver.submissions.models import SubmittedTask
from sfpserver.submissions.services import crontab_schedule


@dataclass(frozen=True)
class ScheduleChange:
    enabled: bool | None = None
    cron: str | None = None
    timezone: str | None = None


def describe(periodic: PeriodicTask, operation_id: UUID | None) -> dict[str, Any]:
    schedule = periodic.crontab
    return {
        "id": periodic.id,
        "name": periodic.name,
        "task": periodic.task,
        "enabled": periodic.enabled,
        "cron": _cron_text(periodic),
        "timezone": str(schedule.timezone) if schedule is not None else None,
        "interval": str(periodic.interval) if periodic.interval is not None else None,
        "description": periodic.description,
        "last_run_at": periodic.last_run_at,
        "total_run_count": periodic.total_run_count,
        "operation_id": operation_id,
    }


def _cron_text(periodic: PeriodicTask) -> str | None:
    s = periodic.crontab
    if s is None:
        return None
    return f"{s.minute} {s.hour} {s.day_of_month} {s.month_of_year} {s.day_of_week}"


def operation_ids(periodic_ids: list[int]) -> dict[int, UUID]:
    rows = SubmittedTask.objects.filter(periodic_task_id__in=periodic_ids).values_list("periodic_task_id", "id")
    return {periodic_id: task_id for periodic_id, task_id in rows if periodic_id is not None}


def update(periodic: PeriodicTask, change: ScheduleChange) -> PeriodicTask:
    """Pause or resume a schedule and change its cron or time zone; all checked before anything changes."""
    if periodic.crontab is None and change.timezone is not None and change.cron is None:
        raise InvalidSubmissionError("timezone", "this schedule runs on an interval; give a cron to go with it")
    cron = crons.parse_cron(change.cron) if change.cron is not None else None
    tz = change.timezone if change.timezone is not None else _current_timezone(periodic)
    crons.check_timezone(tz)
    if change.enabled and SubmittedTask.objects.filter(periodic_task=periodic, stopped_at__isnull=False).exists():
        raise TaskStateError("its recurring task was stopped; submit a new task instead")
    with transaction.atomic():
        if cron is not None or change.timezone is not None:
            periodic.crontab = crontab_schedule(cron or _current_cron(periodic), tz)
            periodic.interval = None
        if change.enabled is not None:
            periodic.enabled = change.enabled
        periodic.save()
    return periodic


def _current_timezone(periodic: PeriodicTask) -> str:
    return str(periodic.crontab.timezone) if periodic.crontab is not None else "UTC"


def _current_cron(periodic: PeriodicTask) -> crons.Cron:
    s = periodic.crontab
    assert s is not None
    return crons.Cron(s.minute, s.hour, s.day_of_month, s.month_of_year, s.day_of_week)
