"""Who sees what. Owner and member tokens see everything; an application token sees the runs, tasks and
schedules it created. The API answers 404 for anything outside these sets."""

from __future__ import annotations

from django.db.models import Q, QuerySet
from django_celery_beat.models import PeriodicTask

from sfpserver.accounts.models import ApiToken, Role
from sfpserver.engine.models import WorkflowRun
from sfpserver.submissions.models import RunCreator, SubmittedTask


def sees_everything(token: ApiToken) -> bool:
    return token.role in (Role.OWNER, Role.MEMBER)


def visible_runs(token: ApiToken) -> QuerySet[WorkflowRun]:
    runs = WorkflowRun.objects.all()
    if sees_everything(token):
        return runs
    created = RunCreator.objects.filter(token=token).values("run_id")
    scheduled = SubmittedTask.objects.filter(created_by=token, scheduled_run__run__isnull=False).values(
        "scheduled_run__run_id"
    )
    return runs.filter(Q(id__in=created) | Q(id__in=scheduled))


def visible_tasks(token: ApiToken) -> QuerySet[SubmittedTask]:
    tasks = SubmittedTask.objects.all()
    return tasks if sees_everything(token) else tasks.filter(created_by=token)


def visible_schedules(token: ApiToken) -> QuerySet[PeriodicTask]:
    schedules = PeriodicTask.objects.all()
    if sees_everything(token):
        return schedules
    own = SubmittedTask.objects.filter(created_by=token, periodic_task__isnull=False).values("periodic_task_id")
    return schedules.filter(id__in=own)
