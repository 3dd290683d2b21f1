"""Who sees what. Owner and member tokens see everything; an application token sees the runs, tasks and
schedules it created. The API answers 404 for anything outside these sets."""

from __future__ import annotations

from django.db.models import Q, QuerySet
from django_celery_beat.models import PeriodicTask

from sfpserver.accounts.models import ApiToken, Role
from sfpserver.engine.models import CronFiring, WorkflowRun
from sfpserver.submissions.models import RunCreator, SubmittedTask


def sees_everything(token: ApiToken) -> bool:
    return token.role in (Role.OWNER, Role.MEMBER)


def visible_runs(token: ApiToken) -> QuerySet[WorkflowRun]:
    runs = WorkflowRun.objects.all()
    if sees_everything(token):
        return runs
    created = RunCreator.objects.filter(token=token).values("run_id")
    own = SubmittedTask.objects.filter(created_by=token)
    scheduled = own.filter(scheduled_run__run__isnull=False).values("scheduled_run__run_id")
    recurring = CronFiring.objects.filter(
        schedule_name__in=own.exclude(schedule_name="").values("schedule_name"), run_id__isnull=False
    ).values("run_id")
    return runs.filter(Q(id__in=created) | Q(id__in=scheduled) | Q(id__in=recurring))


def creator(run: WorkflowRun) -> ApiToken | None:
    """The token that started a run: directly, or through its scheduled or recurring task."""
    direct = RunCreator.objects.filter(run_id=run.id).select_related("token").first()
    if direct is not None:
        return direct.token
    task = SubmittedTask.objects.filter(scheduled_run__run_id=run.id).select_related("created_by").first()
    if task is None:
        names = CronFiring.objects.filter(run_id=run.id).values("schedule_name")
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
