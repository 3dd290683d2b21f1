"""How a run settles once no step of it can still run, and what a step's failure does downstream: Hatchet's
rules, with one extension ("block or continue"), in Python.

statements._settle applies them in Postgres, in the transaction that locks the run; this is their mirror, for
reading and for table tests (tests/engine/test_decisions.py checks the two agree on a table of cases):

- a step still PENDING, QUEUED or RUNNING keeps the run open, except an on-failure step still PENDING: no
  failure came, so it is not needed (it is skipped, completed with {"skipped": true});
- a settled run is FAILED if any step failed, else CANCELLED if any was cancelled, else COMPLETED. An
  on-failure step that ran counts like any other step; an on-success step is a child of every leaf, cancelled
  with its parents' subtree when one of them fails.

Block or continue (an extension beyond Hatchet): a step configured with `continue_on_failure` that fails for
good does not block its descendants. They are released as if it had completed (they read its error through
`ctx.task_run_errors`), its failure neither queues the on-failure step nor fails the run: a run whose only
failures were continued past settles COMPLETED, and its failed steps are its `continued_failures`. The default
("block") is Hatchet's: a failed step cancels its descendants and fails the run.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from enum import StrEnum

from sfpserver.engine.models import TERMINAL_STEP_STATUSES, RunStatus, StepKind, StepStatus


class Downstream(StrEnum):
    """What a step's permanent failure does to the steps below it."""

    BLOCK = "block"  # cancel every descendant (Hatchet's rule)
    CONTINUE = "continue"  # count the failed step as done for its children's joins


def after_failure(continue_on_failure: bool) -> Downstream:
    """What the permanent failure of a step so configured does to its descendants."""
    return Downstream.CONTINUE if continue_on_failure else Downstream.BLOCK


def unneeded(status: str, kind: str) -> bool:
    """An on-failure step still waiting when nothing else can run: no failure needs it."""
    return kind == StepKind.ON_FAILURE and status == StepStatus.PENDING


def blocking_failure(status: str, continue_on_failure: bool) -> bool:
    """A failed step fails its run unless it was configured to be continued past."""
    return status == StepStatus.FAILED and not continue_on_failure


def settled_status(steps: Iterable[Sequence[object]]) -> RunStatus | None:
    """The status a run of these (status, kind[, continue_on_failure]) steps settles in; None while one of them
    can still run."""
    listed = [(str(step[0]), str(step[1]), bool(step[2]) if len(step) > 2 else False) for step in steps]
    if not listed:
        return None  # no step: nothing settles it
    if any(status not in TERMINAL_STEP_STATUSES and not unneeded(status, kind) for status, kind, _ in listed):
        return None
    if any(blocking_failure(status, continues) for status, _, continues in listed):
        return RunStatus.FAILED
    if any(status == StepStatus.CANCELLED for status, _, _ in listed):
        return RunStatus.CANCELLED
    return RunStatus.COMPLETED


def continued_failures(steps: Iterable[tuple[str, str, bool]]) -> list[str]:
    """The names of the (name, status, continue_on_failure) steps that failed and were continued past."""
    return sorted(name for name, status, continues in steps if status == StepStatus.FAILED and continues)
