"""Runs on real workers: DAG order, joins, retries, failures, timeouts and cancellation."""

from __future__ import annotations

import time
from uuid import uuid4

import pytest

from sfpserver.engine import lifecycle
from sfpserver.engine.models import Attempt, AttemptOutcome, ConcurrencySlot, StepStatus, WorkflowRun
from sfpserver.engine.trigger import trigger
from tests.conftest import Processes, wait_until
from tests.engine.helpers import attempts, executions, steps, wait_for_run
from tests.engine.workflows import STUCK_QUEUE

pytestmark = pytest.mark.usefixtures("platform")


def test_a_single_step_run_completes_with_its_output(platform: Processes) -> None:
    run_id = trigger("t.single", {"hello": "world"})
    run = wait_for_run(run_id)
    assert run.status == "COMPLETED"
    assert run.output == {"only": {"step": "only", "input": {"hello": "world"}, "parents": {}}}
    assert executions(run_id, "only") == 1


def test_a_dag_joins_its_branches_and_passes_parent_outputs() -> None:
    run_id = trigger("t.dag", {"n": 1})
    run = wait_for_run(run_id)
    assert run.status == "COMPLETED"
    d = run.output["d"]
    assert set(d["parents"]) == {"b", "c"}
    assert d["parents"]["b"]["parents"] == {"a": run.output["a"]}
    by_name = steps(run_id)
    assert by_name["d"].started_at >= max(by_name["b"].finished_at, by_name["c"].finished_at)
    assert all(executions(run_id, name) == 1 for name in "abcd")


def test_a_ten_step_chain_runs_in_order() -> None:
    run_id = trigger("t.chain10")
    wait_for_run(run_id)
    by_name = steps(run_id)
    for i in range(1, 10):
        assert by_name[f"s{i}"].started_at >= by_name[f"s{i - 1}"].finished_at


def test_it_retries_only_the_failed_step() -> None:
    run_id = trigger("t.retry", {"fail_times": 2})
    run = wait_for_run(run_id)
    assert run.status == "COMPLETED"
    assert executions(run_id, "first") == 1
    assert executions(run_id, "flaky") == 3
    assert executions(run_id, "last") == 1
    flaky = steps(run_id)["flaky"]
    assert [a["outcome"] for a in attempts(flaky)] == ["FAILED", "FAILED", "COMPLETED"]
    assert attempts(flaky)[0]["error_message"] == "flaky failure on attempt 0"
    assert run.output["flaky"] == {"attempt": 2}


def test_backoff_waits_factor_to_the_power_of_the_retry_capped_at_the_maximum() -> None:
    run_id = trigger("t.backoff", {"fail_times": 2})
    run = wait_for_run(run_id)
    assert run.status == "COMPLETED"
    tries = list(Attempt.objects.filter(step__run_id=run_id).order_by("number"))
    first_gap = (tries[1].started_at - tries[0].finished_at).total_seconds()
    second_gap = (tries[2].started_at - tries[1].finished_at).total_seconds()
    assert first_gap >= 2.0  # 2 ** 1
    assert second_gap >= 3.0  # min(3, 2 ** 2)


def test_a_retry_under_a_concurrency_limit_waits_out_its_backoff_too() -> None:
    run_id = trigger("t.gated_backoff", {"fail_times": 1, "group": f"g-{uuid4().hex[:8]}"})
    run = wait_for_run(run_id)
    assert run.status == "COMPLETED"
    tries = list(Attempt.objects.filter(step__run_id=run_id).order_by("number"))
    assert [t.outcome for t in tries] == [AttemptOutcome.FAILED, AttemptOutcome.COMPLETED]
    assert (tries[1].started_at - tries[0].finished_at).total_seconds() >= 2.0  # 2 ** 1, then the gate
    assert not ConcurrencySlot.objects.filter(run_id=run_id).exists()  # every slot given back


def test_a_non_retryable_error_fails_at_once_with_its_context() -> None:
    run_id = trigger("t.no_retry", {"why": "bad input"})
    run = wait_for_run(run_id)
    assert run.status == "FAILED"
    refuse = steps(run_id)["refuse"]
    assert refuse.status == StepStatus.FAILED
    assert refuse.error_type == "NonRetryableError"
    assert refuse.error == "this input can never succeed"
    assert executions(run_id, "refuse") == 1
    attempt = Attempt.objects.get(step=refuse)
    assert "NonRetryableError" in attempt.traceback and "refuse" in attempt.traceback
    assert attempt.worker_name and attempt.started_at <= attempt.finished_at
    assert run.input == {"why": "bad input"}
    assert "refuse: this input can never succeed" in run.error


def test_a_failed_step_cancels_its_descendants_while_independent_branches_finish() -> None:
    run_id = trigger("t.failure", {"seconds": 1.5})
    run = wait_for_run(run_id)
    by_name = steps(run_id)
    assert by_name["bad"].status == StepStatus.FAILED
    assert executions(run_id, "bad") == 2  # one retry
    assert by_name["after_bad"].status == StepStatus.CANCELLED
    assert executions(run_id, "after_bad") == 0
    assert by_name["side"].status == StepStatus.COMPLETED
    assert by_name["side_after"].status == StepStatus.COMPLETED
    assert by_name["handle"].status == StepStatus.COMPLETED  # the on-failure step ran
    assert executions(run_id, "handle") == 1
    assert run.status == "FAILED"  # a successful on-failure step does not change that


def test_on_success_runs_after_the_leaves_and_on_failure_is_skipped() -> None:
    run_id = trigger("t.success_hook")
    run = wait_for_run(run_id)
    assert run.status == "COMPLETED"
    assert executions(run_id, "celebrate") == 1
    assert executions(run_id, "handle") == 0
    assert run.output["handle"] == {"skipped": True}


def test_an_execution_timeout_fails_the_attempt_uses_a_retry_and_stops_the_code() -> None:
    run_id = trigger("t.timeout")
    run = wait_for_run(run_id, timeout=30)
    assert run.status == "FAILED"
    stuck = steps(run_id)["stuck"]
    assert stuck.error == "Task exceeded timeout of 1s"
    assert [a["outcome"] for a in attempts(stuck)] == ["TIMED_OUT", "TIMED_OUT"]
    assert executions(run_id, "stuck") == 2


def test_a_step_that_cannot_start_in_time_is_cancelled() -> None:
    run_id = trigger("t.schedule_timeout")
    run = wait_for_run(run_id, timeout=15)
    assert run.status == "CANCELLED"
    assert steps(run_id)["never"].error.startswith("SCHEDULING_TIMED_OUT")


def test_cancelling_a_run_stops_running_code_within_seconds() -> None:
    run_id = trigger("t.cancel", {"seconds": 30})
    wait_until(lambda: executions(run_id, "long") == 1, what="the long step to start")
    cancelled_at = time.monotonic()
    assert lifecycle.cancel_run(run_id)
    run = WorkflowRun.objects.get(id=run_id)
    assert run.status == "CANCELLED"
    long = steps(run_id)["long"]
    assert long.status == StepStatus.CANCELLED and steps(run_id)["after"].status == StepStatus.CANCELLED
    # The worker notices at its next heartbeat and frees its slot: a new run starts on it.
    from sfpserver.engine.models import Worker

    wait_until(
        lambda: not Worker.objects.filter(id=long.worker_id)
        .filter(id__in=[s.worker_id for s in [long] if s.worker_id])
        .exists()
        or _slot_free(long.worker_id),
        timeout=10,
        what="the worker to stop the cancelled code",
    )
    assert time.monotonic() - cancelled_at < 10
    assert Attempt.objects.get(step=long).outcome == AttemptOutcome.CANCELLED


def _slot_free(worker_id: object) -> bool:
    from sfpserver.engine.models import RunEvent
    from sfpserver.engine.runtime import running  # noqa: F401 - the worker is another process

    return RunEvent.objects.filter(message__startswith="executed:long").exists()


def test_retrying_a_failed_run_reruns_only_failed_steps_and_their_descendants() -> None:
    run_id = trigger("t.failure", {"seconds": 0.1})
    wait_for_run(run_id)
    affected = lifecycle.retry_failed(run_id)
    assert set(affected) == {"bad", "after_bad", "handle"}
    run = wait_for_run(run_id)
    assert run.status == "FAILED"  # "bad" always fails
    assert executions(run_id, "root") == 1
    assert executions(run_id, "side") == 1
    assert executions(run_id, "bad") == 4  # two attempts per run, with a fresh budget


def test_replaying_a_step_keeps_completed_upstream_outputs() -> None:
    run_id = trigger("t.dag")
    first = wait_for_run(run_id)
    b = steps(run_id)["b"]
    assert set(lifecycle.replay_step(b.id)) == {"b", "d"}
    run = wait_for_run(run_id)
    assert run.status == "COMPLETED"
    assert executions(run_id, "a") == 1 and executions(run_id, "c") == 1
    assert executions(run_id, "b") == 2 and executions(run_id, "d") == 2
    assert run.output["a"] == first.output["a"]


def test_the_long_running_pool_runs_its_own_queue() -> None:
    run_id = trigger("t.long_pool", {"seconds": 0.2})
    wait_for_run(run_id)
    long = steps(run_id)["long"]
    assert long.worker is not None and long.worker.pool == "long-running"


def test_a_step_blocked_in_a_call_that_ignores_the_timeout_gives_its_slot_back(platform: Processes) -> None:
    platform.start_node("stuck-node", STUCK_QUEUE, concurrency=1)
    stuck = wait_for_run(trigger("t.sleeps_an_hour", {}), timeout=30)
    step = steps(stuck.id)["stuck"]
    assert (stuck.status, step.error) == ("FAILED", "Task exceeded timeout of 2s")
    assert [a["outcome"] for a in attempts(step)] == [AttemptOutcome.TIMED_OUT]
    started = time.monotonic()
    after = wait_for_run(trigger("t.after_stuck", {}), timeout=15)  # the node's only slot serves it
    assert after.status == "COMPLETED"
    assert steps(after.id)["only"].worker_id == step.worker_id
    assert time.monotonic() - started < 15
    wait_until(lambda: "is abandoned" in platform.logs(), timeout=5, what="the abandoned thread to be reported")
    platform.stop("stuck-node", timeout=5)
