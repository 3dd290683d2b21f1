"""Notifications the engine sends after a change commits, and the scheduler leader's periodic call to prune.
The live feed, metrics and the vault listen; the engine knows nothing of them."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.db import transaction
from django.dispatch import Signal

step_changed = Signal()  # kwargs: run_id, step_id, status
run_changed = Signal()  # kwargs: run_id
event_recorded = Signal()  # kwargs: run_id, event (dict)
# Sent by the scheduler leader with the engine's own pruning (every scheduler.PRUNE_EVERY seconds): apps that
# keep rows of their own for a limited time (the vault's audit) delete the expired ones, in batches.
retention_due = Signal()  # kwargs: none


def _has_listeners(signal: Signal) -> bool:
    return signal.has_listeners()


def after_commit_step_changed(run_id: UUID, step_id: UUID, status: Any) -> None:
    if _has_listeners(step_changed):
        transaction.on_commit(lambda: step_changed.send(None, run_id=run_id, step_id=step_id, status=str(status)))


def after_commit_run_changed(run_id: UUID) -> None:
    if _has_listeners(run_changed):
        transaction.on_commit(lambda: run_changed.send(None, run_id=run_id))


def after_commit_event(run_id: UUID, event: dict[str, Any]) -> None:
    if _has_listeners(event_recorded):
        transaction.on_commit(lambda: event_recorded.send(None, run_id=run_id, event=event))
