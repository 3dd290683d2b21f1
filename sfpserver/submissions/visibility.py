"""Who sees what. Owner and member tokens see everything; an application token sees the runs, tasks and
schedules it created. The API answers 404 for anything outside these sets."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django_celery_beat.models import PeriodicTask

from sfpserver.accounts.models import ApiToken, Role
from sfpserver.engine import services
from sfpserver.submissions.models import RunCreator, SubmittedTask


def sees_everything(token: ApiToken) -> bool:
    return token.role in (Role.OWNER, Role.MEMBER)


def visible_runs(token: ApiToken | None) -> list[QuerySet[Any]] | None:
    """The id sets a token's runs lie in, for the engine's reads (`RunQuery.within`); None: every run."""
    if token is None or sees_everything(token):
        return None
    created = RunCreator.objects.filter(token=token).values("run_id")
    own = SubmittedTask.objects.filter(created_by=token)
    scheduled = own.filter(scheduled_run__run__isnull=False).values("scheduled_run__run_id")
    recurring = services.fired_run_ids(own.exclude(schedule_name="").values("schedule_name"))
    return [created, scheduled, recurring]


def creator(run: services.RunView) -> ApiToken | None:
    """The token that started a run: directly, or through its scheduled or recurring task."""
    direct = RunCreator.objects.filter(run_id=run.id).select_related("token").first()
    if direct is not None:
        return direct.token
    task = SubmittedTask.objects.filter(scheduled_run__run_id=run.id).select_related("created_by").first()
    if task is None:
        names = services.schedules_that_started(run.id)
        task = SubmittedTask.objects.filter(schedule_name__in=names).select_related("created_by").first()
    return task.created_by if task is not None else None


def visible_tasks(token: ApiToken) -> QuerySet[SubmittedTask]:
    tasks = SubmittedTask.objects.all()
    return tasks if sees_everything(token) else tasks.filter(created_by=token)


def visible_schedules(token: ApiToken) -> QuerySet[PeriodicTask]:
    schedules = PeriodicTask.objects.all()
    if sees_everything(token):
        return schedules
    own = SubmittedTask.objects.filter(created_by=token, periodic_task__isnull=False).values("periodic_task_id")
    return schedules.filter(id__in=own)
