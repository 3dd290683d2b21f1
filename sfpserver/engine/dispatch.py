"""Putting step messages on the broker, always after the transaction that queued the step commits.

A message says only "run attempt N of step S". When publishing fails (broker down), the step's
`dispatched_at` goes back to NULL and the scheduler's sweeper publishes it again later.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from uuid import UUID

from django.db import DatabaseError, transaction

logger = logging.getLogger(__name__)

RUN_STEP_TASK = "engine.run_step"


@dataclass(frozen=True)
class Dispatch:
    step_id: UUID
    attempt: int
    queue: str
    priority: int = 1  # 1..3 as in Hatchet; 4 for retries, which go ahead of every user priority


def broker_priority(priority: int) -> int:
    """Redis (kombu) serves lower numbers first, in the steps 0, 3, 6, 9: retries 0, HIGH 3, MEDIUM 6, LOW 9."""
    return {4: 0, 3: 3, 2: 6}.get(priority, 9)


def dispatch_after_commit(items: Iterable[Dispatch]) -> None:
    batch = list(items)
    if batch:
        transaction.on_commit(lambda: publish(batch))


def publish(batch: list[Dispatch]) -> None:
    from config.celery import app

    failed: list[UUID] = []
    try:
        with app.producer_or_acquire() as producer:  # type: ignore[attr-defined]  # celery-types lacks it
            for item in batch:
                try:
                    app.send_task(
                        RUN_STEP_TASK,
                        args=[str(item.step_id), item.attempt],
                        queue=item.queue,
                        producer=producer,
                        priority=broker_priority(item.priority),
                    )
                except Exception:  # noqa: BLE001 - any broker failure leaves the step for the sweeper
                    failed.append(item.step_id)
    except Exception:  # noqa: BLE001 - no connection could even be acquired
        failed = [item.step_id for item in batch]
    if failed:
        logger.warning("broker unavailable: %d step message(s) left for the sweeper", len(failed))
        _mark_undispatched(failed)


def _mark_undispatched(step_ids: list[UUID]) -> None:
    from sfpserver.engine.models import StepRun, StepStatus

    try:
        StepRun.objects.filter(id__in=step_ids, status=StepStatus.QUEUED).update(dispatched_at=None)
    except DatabaseError:
        # The sweeper still re-publishes them once ENGINE_REDISPATCH_AFTER has passed.
        logger.warning("could not mark %d step(s) undispatched", len(step_ids))
