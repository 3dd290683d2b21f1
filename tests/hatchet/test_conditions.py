"""Hatchet's task conditions on DAG tasks (wait_for, skip_if, cancel_if) against real Postgres, Redis, a scheduler
and an SDK worker process (tests/hatchet/durable_worker.py): skipped tasks, cancelled ones, and tasks that wait
holding no slot until a sleep or an event decides."""

from __future__ import annotations

from typing import Any

import pytest

from sfpserver.engine.models import StepRun, StepWait, WorkflowRun
from sfpserver.hatchet import Hatchet
from tests.conftest import wait_until
from tests.hatchet.conftest import DurableWorker


@pytest.fixture
def hatchet(live_db: None) -> Hatchet:
    return Hatchet()


def step(run_id: str, name: str) -> StepRun:
    return StepRun.objects.get(run_id=run_id, name=name)


def test_a_parent_condition_skips_a_task_its_only_child_is_skipped_too_and_a_sleep_holds_no_slot(
    durable: DurableWorker,
) -> None:
    from tests.hatchet.durable_worker import Number, conditions_dag, quick

    durable.start(slots=1)
    ref = conditions_dag.run(Number(n=5), wait_for_result=False)
    wait_until(lambda: step(ref.workflow_run_id, "after_a_sleep").waiting_for == "sleep", what="the sleep")
    assert quick.run() == {"ran": "yes"}  # the one slot is free while after_a_sleep waits
    result = ref.result()
    assert result["skipped_when_positive"] == {"skipped": True}
    assert result["after_skipped"] == {"skipped": True}  # every parent skipped
    assert result["summary"] == {"was_skipped": True, "slept": 3, "start": 5}
    assert step(ref.workflow_run_id, "after_skipped").attempts.count() == 0  # never ran


def test_a_parent_condition_that_does_not_hold_lets_the_task_run(durable: DurableWorker) -> None:
    from tests.hatchet.durable_worker import Number, conditions_dag

    durable.start(slots=2)
    result = conditions_dag.run(Number(n=0))
    assert (result["skipped_when_positive"], result["after_skipped"]) == ({"n": 1}, {"n": 2})
    assert result["summary"]["was_skipped"] is False


def test_cancel_if_cancels_the_task_and_what_follows_and_the_run_ends_cancelled(durable: DurableWorker) -> None:
    from tests.hatchet.durable_worker import Number, cancel_dag

    durable.start()
    ref = cancel_dag.run(Number(n=2), wait_for_result=False)
    wait_until(lambda: WorkflowRun.objects.get(id=ref.workflow_run_id).status == "CANCELLED", what="the run to end")
    cancelled = step(ref.workflow_run_id, "cancelled_when_big")
    downstream = step(ref.workflow_run_id, "after_cancelled")
    assert (cancelled.status, cancelled.error) == ("CANCELLED", "cancelled by its cancel_if condition")
    assert (downstream.status, downstream.error) == ("CANCELLED", "parent step 'cancelled_when_big' was cancelled")


@pytest.mark.parametrize(("pushed", "outcome"), [("durable-gate:go", {"gated": "ran"}), ("durable-gate:skip", None)])
def test_an_event_decides_a_waiting_task_run_or_skip_and_one_that_fails_the_expression_does_not(
    durable: DurableWorker, hatchet: Hatchet, pushed: str, outcome: dict[str, str] | None
) -> None:
    from tests.hatchet.durable_worker import gate_dag

    durable.start()
    ref = gate_dag.run(wait_for_result=False)
    wait_until(lambda: step(ref.workflow_run_id, "gated").waiting_for == "condition", what="the gate to wait")
    hatchet.event.push("durable-gate:go", {"ok": False})  # the expression does not hold
    assert step(ref.workflow_run_id, "gated").waiting_for == "condition"
    hatchet.event.push(pushed, {"ok": True})
    expected: dict[str, Any] = outcome or {"skipped": True}
    assert ref.result()["gated"] == expected
    rows = StepWait.objects.filter(step__run_id=ref.workflow_run_id).order_by("index")
    assert [(row.kind, row.satisfied_at is not None) for row in rows] == [
        ("cancel_if", False),
        ("skip_if", outcome is None),
        ("wait_for", outcome is not None),
    ]
