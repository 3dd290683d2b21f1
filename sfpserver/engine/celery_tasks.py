"""The one Celery task of the engine: a thin shell that runs attempt N of step S (see runtime.execute)."""

from __future__ import annotations

from celery import shared_task

from sfpserver.engine import worker
from sfpserver.engine.dispatch import RUN_STEP_TASK


@shared_task(name=RUN_STEP_TASK, ignore_result=True, acks_late=True)
def run_step(step_id: str, attempt: int) -> None:
    worker.run_step(step_id, attempt)
