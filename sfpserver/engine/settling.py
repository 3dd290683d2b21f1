"""How a run settles once no step of it can still run: Hatchet's rules, in Python.

statements._settle applies them in Postgres, in the transaction that locks the run; this is their mirror, for
reading and for table tests (tests/engine/test_decisions.py checks the two agree on a table of cases):

- a step still PENDING, QUEUED or RUNNING keeps the run open, except an on-failure step still PENDING: no
  failure came, so it is not needed (it is skipped, completed with {"skipped": true});
- a settled run is FAILED if any step failed, else CANCELLED if any was cancelled, else COMPLETED. An
  on-failure step that ran counts like any other step; an on-success step is a child of every leaf, cancelled
  with its parents' subtree when one of them fails.
"""

from __future__ import annotations

from collections.abc import Iterable

from sfpserver.engine.models import TERMINAL_STEP_STATUSES, RunStatus, StepKind, StepStatus


def unneeded(status: str, kind: str) -> bool:
    """An on-failure step still waiting when nothing else can run: no failure needs it."""
    return kind == StepKind.ON_FAILURE and status == StepStatus.PENDING


def settled_status(steps: Iterable[tuple[str, str]]) -> RunStatus | None:
    """The status a run of these (status, kind) steps settles in; None while one of them can still run."""
    listed = list(steps)
    if not listed:
        return None  # no step: nothing settles it
    if any(status not in TERMINAL_STEP_STATUSES and not unneeded(status, kind) for status, kind in listed):
        return None
    statuses = {status for status, _ in listed}
    if StepStatus.FAILED in statuses:
        return RunStatus.FAILED
    if StepStatus.CANCELLED in statuses:
        return RunStatus.CANCELLED
    return RunStatus.COMPLETED
