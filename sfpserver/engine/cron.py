"""Recurring runs: cron schedules kept as django-celery-beat entries (editable in the admin), fired by
the scheduler leader. Each firing is a row unique on (schedule, fire time), so two schedulers never
double-fire and a restart never replays a missed minute twice.

Each engine cron has a CronNextFire row: when it fires next, computed when the entry is saved (created,
edited, paused), moved on when it fires, and recomputed by the scheduler's resync for entries changed
without a save. A tick reads only the due rows, through an index, so its cost follows the crons due, not
the crons registered; at most ENGINE_CRON_FIRINGS_PER_TICK fire per tick, the rest on the next.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import datetime, tzinfo
from typing import Any

from croniter import croniter
from django.conf import settings
from django.db import IntegrityError, models, transaction
from django.db.models.signals import post_save, pre_save
from django.dispatch import receiver
from django.utils import timezone
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from sfpserver.engine import cron_times, pause, sql, statements, trigger
from sfpserver.engine.exceptions import EngineError, InvalidWorkflowError
from sfpserver.engine.models import CronFiring, CronNextFire

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
    continue_on_failure: list[str] | None = None,
) -> PeriodicTask:
    minute, hour, day, month, weekday = normalize(expression).split()
    crontab, _ = CrontabSchedule.objects.get_or_create(
        minute=minute, hour=hour, day_of_month=day, month_of_year=month, day_of_week=weekday, timezone=tz
    )
    kwargs = {"workflow": workflow, "input": input, "metadata": metadata or {}, "priority": priority}
    if continue_on_failure:
        kwargs["continue_on_failure"] = list(continue_on_failure)
    task, _ = PeriodicTask.objects.update_or_create(
        name=name, defaults={"task": CRON_TASK, "crontab": crontab, "kwargs": json.dumps(kwargs), "enabled": True}
    )
    return task


def register_declared(definitions: list[Any]) -> int:
    """Create the crons that workflows declare (`triggers.on_crons`), named `<workflow>:<cron>`, unless they exist
    already: an operator's edits in the admin (a changed schedule, a disabled entry) survive restarts. An edited
    entry is renamed after its new cron and remembers what it was declared as in its description."""
    created = 0
    for definition in definitions:
        for expression in definition.triggers.get("on_crons", []):
            name, marker = f"{definition.name}:{expression}", _declared_as(definition.name, expression)
            if not PeriodicTask.objects.filter(models.Q(name=name) | models.Q(description=marker)).exists():
                task = register(name, definition.name, expression, input=definition.triggers.get("cron_input"))
                PeriodicTask.objects.filter(pk=task.pk).update(description=marker)
                created += 1
    return created


def _declared_as(workflow: str, expression: str) -> str:
    return f"declared by workflow {workflow}: {expression}"


def follow_cron(task: PeriodicTask) -> None:
    """A declared cron (`<workflow>:<cron>`) whose cron was edited is renamed after its new cron, unless another
    entry has that name already. A new entry keeps the name it is given."""
    workflow = json.loads(task.kwargs or "{}").get("workflow") if task.task == CRON_TASK and task.pk else None
    if not workflow or task.crontab is None or not task.name.startswith(f"{workflow}:"):
        return
    declared, wanted = task.name.removeprefix(f"{workflow}:"), f"{workflow}:{expression_of(task)}"
    if task.name == wanted or PeriodicTask.objects.filter(name=wanted).exclude(pk=task.pk).exists():
        return
    task.description = task.description or _declared_as(workflow, declared)
    task.name = wanted


def expression_of(task: PeriodicTask) -> str:
    c = task.crontab
    assert c is not None
    return f"{c.minute} {c.hour} {c.day_of_month} {c.month_of_year} {c.day_of_week}"


def fire_due(now: datetime | None = None, limit: int | None = None) -> int:
    """Trigger the enabled crons whose next fire time has come, at most `limit` (ENGINE_CRON_FIRINGS_PER_TICK)
    of them, oldest first: the rest are still due on the next tick. A cron fires for its latest fire time at
    or before now (missed ones are not replayed), then its next_fire_at moves past now."""
    now = now or timezone.now()
    batch = limit if limit is not None else settings.ENGINE_CRON_FIRINGS_PER_TICK
    params = {"now": now, "batch": batch}
    due = [(row["periodic_task_id"], row["next_fire_at"]) for row in sql.rows(statements.DUE_CRONS, params)]
    tasks = PeriodicTask.objects.select_related("crontab").in_bulk([task_id for task_id, _ in due])
    return sum(_fire_due_one(tasks.get(task_id), task_id, next_fire_at, now) for task_id, next_fire_at in due)


def _fire_due_one(task: PeriodicTask | None, task_id: int, next_fire_at: datetime, now: datetime) -> int:
    if task is None:
        _advance(task_id, next_fire_at, None)  # deleted meanwhile
        return 0
    timing = _timing(task) if task.enabled else None
    if timing is None:
        sync(task)  # disabled without a save (or not a valid cron): recorded so, the resync sees it re-enabled
        return 0
    expression, tz = timing
    due = cron_times.latest_fire_at(expression, tz, now)
    fired = _fire(task, due) if due >= cron_times.floor_minute(task.date_changed) else 0
    _advance(task_id, next_fire_at, cron_times.next_fire_after(expression, tz, now))
    return fired


def _advance(task_id: int, seen: datetime, upcoming: datetime | None) -> None:
    """Move next_fire_at on, unless an edit recomputed it meanwhile."""
    CronNextFire.objects.filter(periodic_task_id=task_id, next_fire_at=seen).update(next_fire_at=upcoming)


# --- next_fire_at: computed when a cron is created or edited, and by the scheduler's resync -------------------


def _timing(task: PeriodicTask) -> tuple[str, tzinfo] | None:
    """The cron's expression and time zone; None for an entry that is not a valid engine cron."""
    if task.task != CRON_TASK or task.crontab is None:
        return None
    expression = expression_of(task)
    if not croniter.is_valid(expression):
        logger.warning("cron %s has an invalid expression %r; it will not fire", task.name, expression)
        return None
    return expression, task.crontab.timezone


def _fingerprint(task: PeriodicTask) -> str | None:
    c = task.crontab
    return None if c is None else f"{expression_of(task)} {c.timezone}"


def sync(task: PeriodicTask) -> None:
    """Recompute when a cron fires next, from the entry as it is now (called on every save)."""
    if task.task != CRON_TASK:
        return
    timing = _timing(task) if task.enabled else None
    upcoming = cron_times.first_fire_at(*timing, task.date_changed) if timing is not None else None
    CronNextFire.objects.update_or_create(
        periodic_task_id=task.pk,
        defaults={
            "next_fire_at": upcoming,
            "enabled": task.enabled,
            "expression": _fingerprint(task),
            "changed_at": task.date_changed,
        },
    )


def sync_changed() -> int:
    """Recompute next_fire_at for every engine cron changed without a save (bulk updates, bulk creates)."""
    ids = [row["id"] for row in sql.rows(statements.CHANGED_CRONS, {"task": CRON_TASK})]
    for task in PeriodicTask.objects.select_related("crontab").filter(id__in=ids).iterator(chunk_size=1000):
        sync(task)
    return len(ids)


_last_resync = 0.0
RESYNC_EVERY = 30.0


def resync() -> int:
    """The scheduler's periodic sync_changed (at its first tick, then every RESYNC_EVERY seconds)."""
    global _last_resync
    if time.monotonic() - _last_resync < RESYNC_EVERY:
        return 0
    _last_resync = time.monotonic()
    return sync_changed()


@receiver(pre_save, sender=PeriodicTask, dispatch_uid="engine.cron.follow_cron")
def _periodic_task_saving(sender: type, instance: PeriodicTask, **kwargs: Any) -> None:
    follow_cron(instance)


@receiver(post_save, sender=PeriodicTask, dispatch_uid="engine.cron.sync")
def _periodic_task_saved(sender: type, instance: PeriodicTask, **kwargs: Any) -> None:
    sync(instance)


@receiver(post_save, sender=CrontabSchedule, dispatch_uid="engine.cron.sync_crontab")
def _crontab_saved(sender: type, instance: CrontabSchedule, **kwargs: Any) -> None:
    for task in PeriodicTask.objects.select_related("crontab").filter(crontab=instance, task=CRON_TASK):
        sync(task)


def _fire(task: PeriodicTask, due: datetime) -> int:
    params = json.loads(task.kwargs or "{}")
    if pause.drops(str(params.get("workflow")), cron=True):
        logger.info("cron %s not fired: its workflow is paused", task.name, extra={"workflow": params.get("workflow")})
        return 0
    try:
        with transaction.atomic():
            firing = CronFiring.objects.create(schedule_name=task.name, fire_time=due)
            firing.run_id = trigger.trigger(
                params["workflow"],
                params.get("input"),
                metadata=params.get("metadata") or {},
                priority=params.get("priority"),
                continue_on_failure=params.get("continue_on_failure") or (),
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
