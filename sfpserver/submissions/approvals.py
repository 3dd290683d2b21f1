"""Approvals of the release pipeline's gate, and the events our operations wait for durably.

The release pipeline's `approval` step (tasks/workflows/long_running.py) waits durably for APPROVAL_EVENT scoped
to its run. A decision is that event, delivered to the run's open waits in one transaction: it counts only when a
gate of that run waits for it now (an event pushed before a wait is registered does not count, as in Hatchet), so
a run with no pending approval is refused and nothing is recorded. The gate reads the decision and fails on a
rejection; the decision (who, what, why) stays in the gate's durable log.

The environment lock waits for ENVIRONMENT_UNLOCKED (scoped to the environment's name), which an unlock pushes.
`wait_label` names these waits for people: the live feed and the dashboard say "waiting for approval".
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from uuid import UUID

from django.db import transaction
from django.utils import timezone

from sfpserver.engine import services as engine
from sfpserver.engine.services import EventFact
from sfpserver.submissions.exceptions import TaskStateError

APPROVAL_EVENT = "sfp:release-approval"
ENVIRONMENT_UNLOCKED = "sfp:environment-unlocked"

_LABELS = {APPROVAL_EVENT: "approval", ENVIRONMENT_UNLOCKED: "the environment lock"}


class Decision(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"


@dataclass(frozen=True)
class Approval:
    run_id: UUID
    decision: Decision
    comment: str
    by: str

    def payload(self) -> dict[str, Any]:
        return {"decision": self.decision.value, "comment": self.comment, "by": self.by}


def wait_label(wait_events: tuple[str, ...] | list[str]) -> str | None:
    """What a durable wait listening for these events waits for, in words (None: no operation's wait)."""
    return next((_LABELS[key] for key in wait_events if key in _LABELS), None)


def decide(approval: Approval) -> Approval:
    """Deliver the decision to the run's pending approval gate; TaskStateError when none waits for one (a
    finished run has none, whatever its steps' logs still hold)."""
    status = engine.run_status(approval.run_id)
    if status in engine.TERMINAL_RUN_STATUSES:
        raise TaskStateError(f"run {approval.run_id} is {status}; it has no pending approval")
    fact = EventFact(
        id=str(uuid.uuid4()),
        key=APPROVAL_EVENT,
        payload=approval.payload(),
        scope=str(approval.run_id),
        created_at=timezone.now(),
        metadata={"sfp__approval_by": approval.by},
    )
    with transaction.atomic():
        if engine.deliver_event(fact) == 0:
            raise TaskStateError(f"run {approval.run_id} has no pending approval: no step of it waits for one")
    return approval
