"""Durable tasks against real Postgres, Redis, a scheduler and SDK worker processes (tests/hatchet/durable_worker.py):
eviction frees the slot, a crash or an outage loses nothing, a replay answers from the log."""

from __future__ import annotations

import os
import signal
import uuid
from datetime import timedelta
from typing import Any

import pytest

from sfpserver.engine.models import Attempt, StepRun, StepWait, Worker, WorkflowRun
from sfpserver.hatchet import Hatchet
from tests.conftest import wait_until
from tests.hatchet.conftest import DurableWorker


@pytest.fixture
def hatchet(live_db: None) -> Hatchet:
    return Hatchet()


def step_of(run_id: str) -> StepRun:
    return StepRun.objects.get(run_id=run_id)


def waiting_for(run_id: str, wait: str) -> bool:
    return StepRun.objects.filter(run_id=run_id, waiting_for=wait).exists()


def outcomes(run_id: str) -> list[str]:
    return list(Attempt.objects.filter(step__run_id=run_id).order_by("number").values_list("outcome", flat=True))


def test_a_one_slot_worker_runs_another_task_while_a_durable_task_sleeps(durable: DurableWorker) -> None:
    from tests.hatchet.durable_worker import SleepInput, durable_sleeper, quick

    durable.start(slots=1)
    sleeper = durable_sleeper.run(SleepInput(seconds=6), wait_for_result=False)
    wait_until(lambda: waiting_for(sleeper.workflow_run_id, "sleep"), what="the sleeper to be evicted")
    assert quick.run() == {"ran": "yes"}
    assert WorkflowRun.objects.get(id=sleeper.workflow_run_id).status == "RUNNING"  # still sleeping meanwhile
    assert sleeper.result() == {"slept": 6, "retry_count": 0}
    assert outcomes(sleeper.workflow_run_id) == ["EVICTED", "COMPLETED"]


def test_a_worker_killed_during_a_durable_sleep_loses_nothing_the_task_ends_at_the_original_deadline(
    durable: DurableWorker,
) -> None:
    from tests.hatchet.durable_worker import SleepInput, durable_slot_sleeper

    first = durable.start(slots=2)
    ref = durable_slot_sleeper.run(SleepInput(seconds=12), wait_for_result=False)
    wait = wait_until(lambda: StepWait.objects.filter(step__run_id=ref.workflow_run_id).first(), what="the wait row")
    durable.kill(first)  # it held the task in its slot (no ttl)
    second = durable.start(slots=2)
    result = ref.result()
    step = step_of(ref.workflow_run_id)
    assert result == {"slept": 12, "worker": str(Worker.objects.get(pid=second.pid, name="sdk-durable-worker").id)}
    assert step.finished_at is not None and wait.wake_at is not None
    assert wait.wake_at <= step.finished_at < wait.wake_at + timedelta(seconds=10)  # not restarted from zero
    assert (outcomes(ref.workflow_run_id)[-1], outcomes(ref.workflow_run_id).count("COMPLETED")) == ("COMPLETED", 1)
    assert StepWait.objects.filter(step=step).count() == 1


def test_an_event_pushed_while_no_worker_runs_still_wakes_the_wait(durable: DurableWorker, hatchet: Hatchet) -> None:
    from tests.hatchet.durable_worker import EventInput, durable_event_waiter

    key = f"durable-test:{uuid.uuid4().hex}"
    proc = durable.start()
    ref = durable_event_waiter.run(EventInput(key=key, expression="input.n > 1"), wait_for_result=False)
    wait_until(lambda: waiting_for(ref.workflow_run_id, "event"), what="the waiter to be evicted")
    durable.kill(proc)
    hatchet.event.push(key, {"n": 1})  # does not match the expression
    hatchet.event.push(key, {"n": 2})
    assert step_of(ref.workflow_run_id).waiting_for == "delivered"  # woken, with no worker to run it
    durable.start()
    assert ref.result() == {"payload": {"n": 2}}


def test_an_event_pushed_before_the_wait_does_not_count(durable: DurableWorker, hatchet: Hatchet) -> None:
    from tests.hatchet.durable_worker import EventInput, durable_event_waiter

    key = f"durable-test:{uuid.uuid4().hex}"
    durable.start()
    hatchet.event.push(key, {"order": "before"})
    ref = durable_event_waiter.run(EventInput(key=key), wait_for_result=False)
    wait_until(lambda: waiting_for(ref.workflow_run_id, "event"), what="the waiter to be evicted")
    hatchet.event.push(key, {"order": "after"})
    assert ref.result() == {"payload": {"order": "after"}}


def test_a_replay_that_asks_for_another_wait_fails_with_non_determinism_and_is_not_retried(
    durable: DurableWorker, hatchet: Hatchet
) -> None:
    from tests.hatchet.durable_worker import durable_non_deterministic

    durable.start()
    ref = durable_non_deterministic.run(wait_for_result=False)
    assert ref.result() == {"retry_count": 0}
    hatchet.runs.replay(ref.workflow_run_id)  # retry_count becomes 1: it asks for a 2 s sleep at node 1
    with pytest.raises(Exception) as raised:
        ref.result()
    step = step_of(ref.workflow_run_id)
    assert step.error_type == "NonDeterminismError"
    assert step.error == (
        f"Non-determinism detected in task {step.id} at node 1: the replay asked for sleep "
        f"""'sleep:[{{"duration":"2s","event_key":null,"expression":null,"group":0,"kind":"sleep","parent":null,"""
        """"scope":null}]', but the log recorded sleep 'sleep:[{"duration":"1s","event_key":null,"expression":null,"""
        """"group":0,"kind":"sleep","parent":null,"scope":null}]' there"""
    )
    assert "NonDeterminismError" in str(raised.value) or "Non-determinism" in str(raised.value)
    assert outcomes(ref.workflow_run_id).count("FAILED") == 1  # retries=2, none used


def test_a_child_spawned_before_a_wait_is_not_spawned_again_by_the_replay(durable: DurableWorker) -> None:
    from tests.hatchet.durable_worker import SleepInput, durable_spawner

    durable.start(slots=2)
    ref = durable_spawner.run(SleepInput(seconds=1), wait_for_result=False)
    result = ref.result()
    children = WorkflowRun.objects.filter(parent_step__run_id=ref.workflow_run_id).order_by("child_index")
    assert [c.workflow_name for c in children] == ["DurableChild", "DurableChild"]  # one before, one after the wait
    assert result == {"child": children[0].output["durablechild"], "again": children[1].output["durablechild"]}
    assert "EVICTED" in outcomes(ref.workflow_run_id)


@pytest.mark.parametrize("pushed", [True, False])
def test_an_or_group_of_a_sleep_and_an_event_says_which_one_answered(
    durable: DurableWorker, hatchet: Hatchet, pushed: bool
) -> None:
    from tests.hatchet.durable_worker import EventInput, durable_or_waiter

    key = f"durable-test:{uuid.uuid4().hex}"
    durable.start()
    ref = durable_or_waiter.run(EventInput(key=key, sleep_seconds=30 if pushed else 1), wait_for_result=False)
    wait_until(lambda: waiting_for(ref.workflow_run_id, "condition"), what="the waiter to be evicted")
    if pushed:
        hatchet.event.push(key, {"via": "event"})
    expected: dict[str, Any] = {key: [{"via": "event"}]} if pushed else {"sleep:1s": [{"sleep_duration": "1s"}]}
    assert ref.result() == {"CREATE": expected}


def test_a_drain_evicts_durable_tasks_at_their_waits_instead_of_waiting_for_them_and_resume_finishes_them(
    durable: DurableWorker,
) -> None:
    from django.core.management import CommandError, call_command

    from sfpserver.engine import drain, services
    from tests.hatchet.durable_worker import SleepInput, durable_busy_then_sleep, durable_sleeper, durable_slot_sleeper

    durable.start(slots=3)
    evicted = durable_sleeper.run(SleepInput(seconds=3), wait_for_result=False)
    in_slot = durable_slot_sleeper.run(SleepInput(seconds=3), wait_for_result=False)
    busy = durable_busy_then_sleep.run(SleepInput(seconds=4), wait_for_result=False)
    wait_until(lambda: waiting_for(evicted.workflow_run_id, "sleep"), what="the first sleeper to be evicted")
    wait_until(lambda: StepWait.objects.filter(step__run_id=in_slot.workflow_run_id).exists(), what="the slot wait")
    wait_until(lambda: step_of(busy.workflow_run_id).status == "RUNNING", what="the busy task to start")
    try:
        with pytest.raises(CommandError) as timed_out:  # the busy task is still in its plain code
            call_command("drain", "--timeout", "1", "--poll", "0.2")
        assert timed_out.value.returncode == 3
        running = {str(step.run_id) for step in drain.running_steps()}
        assert str(evicted.workflow_run_id) not in running and str(in_slot.workflow_run_id) not in running
        wait_until(lambda: not drain.running_steps(), timeout=20, what="the busy task to be evicted at its wait")
        call_command("drain", "--timeout", "1", "--poll", "0.2")  # drained: nothing runs
        runs = [evicted, in_slot, busy]
        waits = StepWait.objects.filter(step__run_id__in=[r.workflow_run_id for r in runs])
        wait_until(
            lambda: waits.count() == 3 and not waits.filter(satisfied_at__isnull=True).exists(),
            timeout=20,
            what="every sleep to be over",
        )
        assert [WorkflowRun.objects.get(id=r.workflow_run_id).status for r in runs] == ["RUNNING"] * 3
    finally:
        services.resume()
    assert evicted.result() == {"slept": 3, "retry_count": 0}
    assert in_slot.result()["slept"] == 3
    assert busy.result() == {"retry_count": 0}
    for ref in runs:
        assert outcomes(ref.workflow_run_id) == ["EVICTED", "COMPLETED"]


def test_the_api_the_metrics_and_the_live_feed_show_a_waiting_durable_task_as_waiting_on_what_until_when(
    durable: DurableWorker, hatchet: Hatchet
) -> None:
    from django.test import Client

    from sfpserver.live import state
    from tests.api.conftest import make_persona
    from tests.hatchet.durable_worker import EventInput, durable_or_waiter
    from tests.monitoring.test_metrics import scrape, value

    key = f"durable-test:{uuid.uuid4().hex}"
    durable.start()
    ref = durable_or_waiter.run(EventInput(key=key, sleep_seconds=120), wait_for_result=False)
    wait_until(lambda: waiting_for(ref.workflow_run_id, "condition"), what="the waiter to be evicted")
    step = step_of(ref.workflow_run_id)
    assert step.due_at is not None
    until = step.due_at.isoformat().replace("+00:00", "Z")
    owner = make_persona(f"durable-owner-{uuid.uuid4().hex[:8]}", "owner")
    shown = owner.client.get(f"/sfp/api/runs/{ref.workflow_run_id}").json()["steps"][0]
    assert (shown["status"], shown["waiting"]) == ("QUEUED", {"on": "condition", "until": until, "events": [key]})
    samples = scrape(Client())
    assert value(samples, "sfp_durable_waiting", queue=step.queue, on="condition") == 1
    assert value(samples, "sfp_steps", queue=step.queue, status="WAITING") == 1
    assert value(samples, "sfp_queue_depth", queue=step.queue, state="ready") == 0
    live = state.run_states([ref.workflow_run_id], with_attempts=False)[0]["steps"][0]
    assert (live["waiting_for"], live["due_at"], live["wait_events"]) == ("condition", state.plain(step.due_at), [key])
    hatchet.event.push(key, {"done": True})
    assert ref.result() == {"CREATE": {key: [{"done": True}]}}
    assert owner.client.get(f"/sfp/api/runs/{ref.workflow_run_id}").json()["steps"][0]["waiting"] is None


def test_a_reset_at_a_node_answers_the_nodes_before_it_from_the_log_and_runs_the_rest_again(
    durable: DurableWorker, hatchet: Hatchet
) -> None:
    from tests.hatchet.durable_worker import durable_two_sleeps

    durable.start()
    ref = durable_two_sleeps.run(wait_for_result=False)
    first = ref.result()
    before = dict(StepWait.objects.filter(step__run_id=ref.workflow_run_id).values_list("index", "id"))
    branch = hatchet.runs.reset_durable_task(ref.workflow_run_id, node_id=3, branch_id=1)  # the second sleep
    assert (branch.node_id, branch.branch_id) == (3, 2)
    assert ref.result() == first  # aio_now (node 1) answered from the log
    after = dict(StepWait.objects.filter(step__run_id=ref.workflow_run_id).values_list("index", "id"))
    assert (after[0], after[1], after[2] != before[2]) == (before[0], before[1], True)


def test_a_worker_stopped_with_sigterm_evicts_a_durable_task_waiting_in_its_slot_and_another_finishes_it(
    durable: DurableWorker,
) -> None:
    from tests.hatchet.durable_worker import SleepInput, durable_slot_sleeper

    first = durable.start(slots=2)
    ref = durable_slot_sleeper.run(SleepInput(seconds=14), wait_for_result=False)
    wait_until(lambda: StepWait.objects.filter(step__run_id=ref.workflow_run_id).exists(), what="the wait row")
    os.killpg(first.pid, signal.SIGTERM)
    assert first.wait(timeout=9) == 0  # it did not wait out the 14 s sleep
    assert waiting_for(ref.workflow_run_id, "sleep")
    second = durable.start(slots=2)
    assert ref.result() == {
        "slept": 14,
        "worker": str(Worker.objects.get(pid=second.pid, name="sdk-durable-worker").id),
    }
    assert outcomes(ref.workflow_run_id) == ["EVICTED", "COMPLETED"]


def test_an_event_pushed_before_a_wait_with_a_scope_and_a_lookback_window_counts_and_one_of_another_scope_does_not(
    durable: DurableWorker, hatchet: Hatchet
) -> None:
    from tests.hatchet.durable_worker import ScopedInput, durable_lookback

    key, scope = f"durable-test:{uuid.uuid4().hex}", uuid.uuid4().hex
    durable.start()
    hatchet.event.push(key, {"scope": "other"}, scope="another")
    hatchet.event.push(key, {"scope": "mine"}, scope=scope)
    ref = durable_lookback.run(ScopedInput(key=key, scope=scope), wait_for_result=False)
    assert ref.result() == {"payload": {"scope": "mine"}}
    assert outcomes(ref.workflow_run_id) == ["COMPLETED"]  # answered at once: never evicted


def test_branches_that_spawn_concurrently_get_their_own_children_back_when_replayed_in_another_order(
    durable: DurableWorker, hatchet: Hatchet
) -> None:
    from tests.hatchet.durable_worker import durable_branches

    durable.start(slots=4)
    ref = durable_branches.run(wait_for_result=False)
    first = ref.result()
    assert [c["label"] for c in first["a"] + first["b"]] == ["a-first", "a-second", "b-first", "b-second"]
    hatchet.runs.replay(ref.workflow_run_id)  # every child is done now: the branches reach them in order a, b
    assert ref.result() == first  # the same children (their tokens), none spawned again
    assert WorkflowRun.objects.filter(parent_step__run_id=ref.workflow_run_id).count() == 4
