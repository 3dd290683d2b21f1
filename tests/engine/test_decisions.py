"""Table tests of the engine's pure decisions: concurrency admission, run settling, backoff, wait states.

They run without servers (`pure`: no database fixture), except the one that checks the settling rules' Python
mirror against the statement Postgres runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import transaction

from sfpserver.engine import sql, statements
from sfpserver.engine.definitions import MAX_BACKOFF_SECONDS, backoff_delay
from sfpserver.engine.gates import decide
from sfpserver.engine.models import RunStatus, SlotState, StepKind, StepRun, StepStatus, WaitingFor, WorkflowRun
from sfpserver.engine.settling import Downstream, after_failure, continued_failures, settled_status
from sfpserver.engine.waits import Event, after, enter, values_sql

H, W = SlotState.HOLDING, SlotState.WAITING


@dataclass(frozen=True)
class Slot:
    id: int
    state: str
    is_retry: bool = False


def slots(*states: str, retries: tuple[int, ...] = ()) -> list[Slot]:
    """Slots in arrival order (ids 1, 2, ...); `retries`: the ids of retries."""
    return [Slot(index, state, index in retries) for index, state in enumerate(states, start=1)]


# (strategy, max_runs, slots, ids held, ids refused)
ADMISSIONS = [
    ("GROUP_ROUND_ROBIN", 2, slots(H, W, W, W), [2], []),
    ("GROUP_ROUND_ROBIN", 1, slots(H, W), [], []),
    ("QUEUE_OLDEST", 2, slots(W, W, W), [1, 2], []),
    ("QUEUE_OLDEST", 1, slots(W, W, W, retries=(3,)), [3], []),  # a retry goes first
    ("QUEUE_NEWEST", 2, slots(W, W, W), [3, 2], []),
    ("QUEUE_NEWEST", 1, slots(H, W), [], []),
    ("CANCEL_IN_PROGRESS", 1, slots(H, W), [2], [1]),
    ("CANCEL_IN_PROGRESS", 2, slots(H, H, W), [3], [1]),
    ("CANCEL_IN_PROGRESS", 2, slots(H, W), [2], []),
    ("CANCEL_NEWEST", 1, slots(H, W, W), [], [2, 3]),
    ("CANCEL_NEWEST", 2, slots(H, W, W), [2], [3]),
    ("CANCEL_QUEUED_EXCEPT_NEWEST", 1, slots(H, W, W, W), [], [2, 3]),
    ("CANCEL_QUEUED_EXCEPT_NEWEST", 2, slots(H, W, W, W), [4], [2, 3]),
    ("CANCEL_QUEUED_EXCEPT_OLDEST", 2, slots(H, W, W, W), [2], [3, 4]),
    ("CANCEL_QUEUED_EXCEPT_OLDEST", 1, slots(H, H), [], []),
]


@pytest.mark.pure
@pytest.mark.parametrize(("strategy", "max_runs", "given", "held", "refused"), ADMISSIONS)
def test_each_concurrency_strategy_holds_and_refuses_the_slots_hatchet_does(
    strategy: str, max_runs: int, given: list[Slot], held: list[int], refused: list[int]
) -> None:
    hold, refuse = decide(strategy, max_runs, given)
    assert ([s.id for s in hold], [s.id for s in refuse]) == (held, refused)


P, Q, R = StepStatus.PENDING, StepStatus.QUEUED, StepStatus.RUNNING
C, F, X = StepStatus.COMPLETED, StepStatus.FAILED, StepStatus.CANCELLED
T, OF, OS = StepKind.TASK, StepKind.ON_FAILURE, StepKind.ON_SUCCESS

# (the run's steps as (status, kind), the status it settles in: None while open)
SETTLINGS: list[tuple[list[tuple[Any, ...]], str | None]] = [
    ([(C, T), (C, T)], RunStatus.COMPLETED),
    ([(C, T), (R, T)], None),
    ([(C, T), (Q, T)], None),
    ([(C, T), (P, T)], None),
    ([(C, T), (F, T), (X, T)], RunStatus.FAILED),
    ([(C, T), (X, T)], RunStatus.CANCELLED),
    ([(C, T), (P, OF)], RunStatus.COMPLETED),  # the unneeded on-failure step is skipped
    ([(F, T), (Q, OF)], None),  # the on-failure step runs first
    ([(F, T), (C, OF)], RunStatus.FAILED),  # a handled failure still fails the run
    ([(C, T), (F, OF)], RunStatus.FAILED),
    ([(C, T), (C, OS)], RunStatus.COMPLETED),
    ([(F, T), (X, OS)], RunStatus.FAILED),
    ([(C, T), (P, OS)], None),
    ([(X, T), (X, OS), (P, OF)], RunStatus.CANCELLED),
    # block or continue: a third element True marks a step configured to continue on failure
    ([(F, T, True), (C, T), (P, OF)], RunStatus.COMPLETED),  # continued past: completed (with failures)
    ([(F, T, True), (R, T)], None),  # its descendants still run
    ([(F, T, True), (F, T)], RunStatus.FAILED),  # a blocking failure downstream still fails the run
    ([(F, T, True), (X, T)], RunStatus.CANCELLED),
    ([(F, T, True), (C, OS)], RunStatus.COMPLETED),  # the on-success step ran
]


@pytest.mark.pure
@pytest.mark.parametrize(("steps", "settles"), SETTLINGS)
def test_a_run_settles_by_hatchets_rules(steps: list[tuple[str, ...]], settles: RunStatus | None) -> None:
    assert settled_status(steps) == settles


@pytest.mark.pure
@pytest.mark.parametrize(
    ("continue_on_failure", "downstream"), [(False, Downstream.BLOCK), (True, Downstream.CONTINUE)]
)
def test_a_permanent_failure_blocks_its_descendants_unless_the_step_continues_on_failure(
    continue_on_failure: bool, downstream: Downstream
) -> None:
    assert after_failure(continue_on_failure) == downstream


@pytest.mark.pure
def test_only_failed_steps_that_continue_on_failure_are_continued_failures() -> None:
    steps = [("lint", F, True), ("unit", F, False), ("docs", C, True), ("build", C, False)]
    assert continued_failures(steps) == ["lint"]


def test_the_settling_statement_agrees_with_the_rules_on_every_case(db_access: None) -> None:
    found = [_settle_in_postgres(steps) for steps, _ in SETTLINGS]
    assert found == [settles for _, settles in SETTLINGS]


class _RollBack(Exception):
    pass


def _settle_in_postgres(steps: Sequence[tuple[Any, ...]]) -> str | None:
    """The run's status after statements.SETTLE_RUN, in a transaction rolled back afterwards."""
    result: list[str | None] = []
    try:
        with transaction.atomic():
            run = WorkflowRun.objects.create(workflow_name="t.settle", status=RunStatus.RUNNING)
            for index, (status, kind, *continues) in enumerate(steps):
                StepRun.objects.create(
                    run=run, name=f"s{index}", action="t:echo", kind=kind, status=status, queue="q",
                    execution_timeout=1, schedule_timeout=1, continue_on_failure=bool(continues and continues[0]),
                )  # fmt: skip
            settled = sql.fetch(statements.SETTLE_RUN, {"run": run.id, "now": datetime.now(UTC)})[0]["settled"]
            result.append(WorkflowRun.objects.get(id=run.id).status if settled else None)
            raise _RollBack
    except _RollBack:
        pass
    return result[0]


# (factor, max seconds, retry number, delay)
BACKOFFS = [
    (None, None, 1, 0.0),
    (None, 10, 5, 0.0),
    (2.0, None, 1, 2.0),
    (2.0, None, 3, 8.0),
    (2.0, 5, 3, 5.0),
    (1.5, 100, 2, 2.25),
    (10.0, None, 10, float(MAX_BACKOFF_SECONDS)),
    (2.0, None, 10_000, float(MAX_BACKOFF_SECONDS)),  # no overflow
]


@pytest.mark.pure
@pytest.mark.parametrize(("factor", "cap", "retry", "delay"), BACKOFFS)
def test_the_backoff_grows_by_its_factor_up_to_its_cap(
    factor: float | None, cap: int | None, retry: int, delay: float
) -> None:
    assert backoff_delay(factor, cap, retry) == delay


# (event, gated, delay, the wait that follows)
TRANSITIONS = [
    (Event.DEFERRED, False, 0, WaitingFor.PARENTS),
    (Event.DEFERRED, True, 0, WaitingFor.PARENTS),
    (Event.QUEUED, False, 0, WaitingFor.DELIVERED),
    (Event.QUEUED, True, 0, WaitingFor.GATES),
    (Event.RETRIED, False, 0, WaitingFor.DELIVERED),
    (Event.RETRIED, True, 0, WaitingFor.GATES),
    (Event.RETRIED, False, 2, WaitingFor.BACKOFF),
    (Event.RETRIED, True, 2, WaitingFor.BACKOFF),
    (Event.BACKOFF_OVER, False, 0, WaitingFor.DELIVERED),
    (Event.BACKOFF_OVER, True, 0, WaitingFor.GATES),
    (Event.ADMITTED, True, 0, WaitingFor.DELIVERED),
    (Event.UNDELIVERED, False, 0, WaitingFor.BROKER),
    (Event.UNDELIVERED, True, 0, WaitingFor.BROKER),
    (Event.PAUSED, False, 600, WaitingFor.PAUSED),
    (Event.PAUSED, True, 600, WaitingFor.PAUSED),
    (Event.UNPAUSED, False, 0, WaitingFor.DELIVERED),
    (Event.UNPAUSED, True, 0, WaitingFor.GATES),
    (Event.STARTED, False, 0, None),
    (Event.ENDED, True, 0, None),
    (Event.WOKEN, False, 0, WaitingFor.DELIVERED),
    (Event.WOKEN, True, 0, WaitingFor.DELIVERED),
]


@pytest.mark.pure
@pytest.mark.parametrize(("event", "gated", "delay", "wait"), TRANSITIONS)
def test_each_event_puts_a_step_in_the_wait_that_follows_it(
    event: Event, gated: bool, delay: float, wait: WaitingFor | None
) -> None:
    assert after(event, gated=gated, delay=delay) == wait


NOW = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.pure
@pytest.mark.parametrize(("event", "gated", "delay", "wait"), TRANSITIONS)
def test_a_wait_is_due_now_at_the_broker_after_its_backoff_or_never(
    event: Event, gated: bool, delay: float, wait: WaitingFor | None
) -> None:
    due = {
        WaitingFor.BROKER: NOW,
        WaitingFor.DELIVERED: NOW,
        WaitingFor.BACKOFF: NOW + timedelta(seconds=delay),
        WaitingFor.PAUSED: NOW + timedelta(seconds=delay),  # the pause's queue TTL
    }.get(wait)  # type: ignore[arg-type]
    assert enter(event, gated=gated, now=NOW, delay=delay).fields() == {"waiting_for": wait, "due_at": due}


@pytest.mark.pure
@pytest.mark.parametrize("event", [e for e in Event if e not in (Event.RETRIED, Event.PAUSED, Event.EVICTED)])
def test_the_sql_of_a_transition_says_what_the_rule_says(event: Event) -> None:
    for gated in (True, False):
        waiting_for, due_at = values_sql(event, gated="TRUE" if gated else "FALSE", now="NOW")
        expected = enter(event, gated=gated, now=NOW)
        assert _evaluate(waiting_for, gated) == (expected.waiting_for and expected.waiting_for.value)
        assert _evaluate(due_at, gated) == ("NOW" if expected.due_at else None)


def _evaluate(expression: str, gated: bool) -> str | None:
    """values_sql's output (a literal, NULL, NOW, or one CASE WHEN <gated> THEN a ELSE b END), evaluated."""
    if expression.startswith("CASE WHEN"):
        _, rest = expression.split(" THEN ", 1)
        then, rest = rest.split(" ELSE ", 1)
        expression = then if gated else rest.removesuffix(" END")
    return None if expression == "NULL" else expression.strip("'")
