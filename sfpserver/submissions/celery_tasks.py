"""The Celery task that django-celery-beat sends for a recurring task: a thin shell over the service."""

from __future__ import annotations

import logging

from celery import shared_task
from django.utils import timezone

from sfpserver.engine.exceptions import EngineError
from sfpserver.submissions import services

logger = logging.getLogger(__name__)


@shared_task(name=services.FIRE_RECURRING_TASK, ignore_result=True)
def fire_recurring_task(task_id: str) -> None:
    try:
        services.fire_recurring(task_id, timezone.now())
    except EngineError as exc:  # the firing was rolled back; the next slot tries again
        logger.error("recurring task %s could not start a run: %s", task_id, exc)
