"""Recurring runs: cron schedules kept as django-celery-beat entries (editable in the admin), fired by
the scheduler leader. Each firing is a row unique on (schedule, fire time), so two schedulers never
double-fire and a restart never replays a missed minute twice."""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any

from croniter import croniter
from django.db import IntegrityError, models, transaction
from django.utils import timezone
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from sfpserver.engine import trigger
from sfpserver.engine.exceptions import EngineError, InvalidWorkflowError
from sfpserver.engine.models import CronFiring

logger = logging.getLogger(__name__)

CRON_TASK = "engine.cron"
ALIASES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@hourly": "0 * * * *",
}


def normalize(expression: str) -> str:
    """A 5-field cron expression (aliases expanded); InvalidWorkflowError naming the problem otherwise."""
    text = ALIASES.get(expression.strip(), expression.strip()) if isinstance(expression, str) else ""
    if len(text.split()) != 5 or not croniter.is_valid(text):
        raise InvalidWorkflowError(
            "cron", f"invalid cron expression {expression!r}: expected 5 fields like '*/5 * * * *'"
        )
    return text


def register(
    name: str,
    workflow: str,
    expression: str,
    *,
    input: Any = None,
    metadata: dict[str, Any] | None = None,
    priority: int | None = None,
    tz: str = "UTC",
) -> PeriodicTask:
    minute, hour, day, month, weekday = normalize(expression).split()
    crontab, _ = CrontabSchedule.objects.get_or_create(
        minute=minute, hour=hour, day_of_month=day, month_of_year=month, day_of_week=weekday, timezone=tz
    )
    kwargs = {"workflow": workflow, "input": input, "metadata": metadata or {}, "priority": priority}
    task, _ = PeriodicTask.objects.update_or_create(
        name=name, defaults={"task": CRON_TASK, "crontab": crontab, "kwargs": json.dumps(kwargs), "enabled": True}
    )
    return task


def register_declared(definitions: list[Any]) -> int:
    """Create the crons that workflows declare (`triggers.on_crons`) unless they exist already: an operator's
    edits in the admin (a changed schedule, a disabled entry) survive restarts."""
    created = 0
    for definition in definitions:
        for expression in definition.triggers.get("on_crons", []):
            name = f"{definition.name}:{expression}"
            if not PeriodicTask.objects.filter(name=name).exists():
                register(name, definition.name, expression, input=definition.triggers.get("cron_input"))
                created += 1
    return created


def expression_of(task: PeriodicTask) -> str:
    c = task.crontab
    assert c is not None
    return f"{c.minute} {c.hour} {c.day_of_month} {c.month_of_year} {c.day_of_week}"


def fire_due(now: datetime | None = None) -> int:
    """Trigger every enabled cron whose latest fire time has not been recorded yet."""
    now = now or timezone.now()
    fired = 0
    for task in PeriodicTask.objects.filter(task=CRON_TASK, enabled=True, crontab__isnull=False).select_related(
        "crontab"
    ):
        assert task.crontab is not None
        due = croniter(expression_of(task), now.astimezone(task.crontab.timezone)).get_prev(datetime)
        if due < task.date_changed.replace(second=0, microsecond=0):
            continue  # not due since it was created or last edited
        fired += _fire(task, due)
    return fired


def _fire(task: PeriodicTask, due: datetime) -> int:
    params = json.loads(task.kwargs or "{}")
    try:
        with transaction.atomic():
            firing = CronFiring.objects.create(schedule_name=task.name, fire_time=due)
            firing.run_id = trigger.trigger(
                params["workflow"],
                params.get("input"),
                metadata=params.get("metadata") or {},
                priority=params.get("priority"),
            )
            firing.save(update_fields=["run_id"])
    except IntegrityError:
        return 0  # already fired
    except EngineError as exc:
        logger.error("cron %s could not start %s: %s", task.name, params.get("workflow"), exc)
        return 0
    PeriodicTask.objects.filter(id=task.id).update(
        last_run_at=timezone.now(), total_run_count=models.F("total_run_count") + 1
    )
    return 1
