"""Fault tests of the group commit (engine/groupcommit.py) on real worker processes, Redis and Postgres: a worker
SIGKILLed with a batch of completions committed but their messages not yet acknowledged, and one SIGKILLed with
a batch of completions still waiting, uncommitted. Nothing is doubled and nothing is lost.

The worker under test imports tests/engine/groupcommit_seam.py, which holds its committer at the chosen point of
the first batch of several completions and says what that batch held; the test kills the worker there. Four
parallel steps of one run (t.gc_fan_out) wait for each other, so their completions reach the committer together.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from config.celery import app
from sfpserver.engine import broker
from sfpserver.engine.messages import Dispatch
from sfpserver.engine.models import Attempt, AttemptOutcome, RunStatus, StepRun, StepStatus, Worker, WorkerStatus
from sfpserver.engine.trigger import trigger
from tests.conftest import Processes, wait_until
from tests.engine.helpers import executions, steps, wait_for_run
from tests.engine.workflows import FAULT_QUEUE, GROUP_COMMIT_FAN_OUT

pytestmark = [pytest.mark.fault, pytest.mark.usefixtures("platform")]

FAN_OUT = tuple(f"p{i}" for i in range(GROUP_COMMIT_FAN_OUT))
ALL_STEPS = (*FAN_OUT, "join")


# --- helpers ------------------------------------------------------------------------------------------------


def start_node(platform: Processes, name: str, concurrency: int, **env: str) -> None:
    platform.start_node(name, FAULT_QUEUE, concurrency, **env)
    wait_until(
        lambda: Worker.objects.filter(name=name, status=WorkerStatus.ACTIVE).exists(),
        timeout=60,
        what=f"{name} to register",
    )


def start_victim(platform: Processes, name: str, point: str, marker: Path) -> None:
    """A worker with as many slots as the run has parallel steps, held by the seam at `point`."""
    modules = os.environ["ENGINE_WORKFLOW_MODULES"] + ",tests.engine.groupcommit_seam"
    seam = {"ENGINE_WORKFLOW_MODULES": modules, "GC_SEAM_POINT": point, "GC_SEAM_MARKER": str(marker)}
    start_node(platform, name, GROUP_COMMIT_FAN_OUT, **seam)


def held_batch(marker: Path) -> dict[str, Any]:
    """What the batch the victim is held at holds: its size, the steps whose completion it carries."""
    wait_until(marker.exists, timeout=60, interval=0.05, what="the victim to hold a batch of completions")
    batch: dict[str, Any] = json.loads(marker.read_text())
    return batch


def held_run(platform: Processes, victim: str, point: str, marker: Path) -> tuple[UUID, set[str], dict[str, StepRun]]:
    """A fan-out run whose victim is held at `point` of a batch of several completions: the run, the steps whose
    completions the batch carries, and the run's steps by id as they were then."""
    start_victim(platform, victim, point, marker)
    run_id = trigger("t.gc_fan_out", {"n": GROUP_COMMIT_FAN_OUT})
    batch = held_batch(marker)
    assert batch["size"] > 1 and len(batch["steps"]) > 1  # several completions share the batch
    return run_id, {str(step_id) for step_id in batch["steps"]}, {str(s.id): s for s in steps(run_id).values()}


def completed_attempts(run_id: UUID) -> Counter[str]:
    done = Attempt.objects.filter(step__run_id=run_id, outcome=AttemptOutcome.COMPLETED)
    return Counter(done.values_list("step__name", flat=True))


def history(step_id: str) -> list[tuple[str, str]]:
    return list(Attempt.objects.filter(step_id=step_id).order_by("number").values_list("outcome", "worker_name"))


@contextmanager
def broker_channel() -> Iterator[Any]:
    """A channel of the broker's Redis transport (its priority lists)."""
    with app.connection_for_write() as conn:
        yield conn.default_channel  # type: ignore[attr-defined]


def redeliver(step_attempts: list[tuple[str, int]]) -> None:
    """The messages a dead worker had taken, sent again: what a broker's restore of a dead consumer's messages, or
    the scheduler's re-publishing of a lost one, brings back. (Workers keep what they took in memory,
    config/redis_transport.py: a SIGKILLed worker's messages are gone with it.)"""
    broker.send([Dispatch(UUID(step_id), attempt, FAULT_QUEUE, 2) for step_id, attempt in step_attempts], {})
    assert broker.confirm_all() == []


def queued_messages() -> int:
    """Messages waiting on the fault queue, at every priority."""
    with broker_channel() as channel:
        keys = {channel._q_for_pri(FAULT_QUEUE, priority) for priority in channel.priority_steps}
        return sum(int(channel.client.llen(key)) for key in keys)


def assert_recorded_once(run_id: UUID) -> None:
    """Every step completed with one COMPLETED attempt, and its output is that attempt's."""
    assert completed_attempts(run_id) == Counter(dict.fromkeys(ALL_STEPS, 1))
    recorded = steps(run_id)
    assert {name: recorded[name].status for name in ALL_STEPS} == dict.fromkeys(ALL_STEPS, StepStatus.COMPLETED)
    for name in FAN_OUT:
        assert recorded[name].output == {"step": name, "attempt": recorded[name].attempt}


# --- killed between a batch's commit and its acknowledgements -------------------------------------------------


def test_a_worker_killed_after_a_batch_of_completions_committed_doubles_nothing_and_loses_nothing(
    nodes: Processes, tmp_path: Path
) -> None:
    victim, survivor = "gc-committed-victim", "gc-committed-survivor"
    run_id, committed, by_id = held_run(nodes, victim, "after-commit", tmp_path / "batch.json")
    assert {by_id[step_id].status for step_id in committed} == {StepStatus.COMPLETED}  # the commit is in

    nodes.kill(victim)
    redeliver([(step_id, by_id[step_id].attempt) for step_id in committed])  # their messages come back
    start_node(nodes, survivor, 2)

    run = wait_for_run(run_id, timeout=60)
    assert run.status == RunStatus.COMPLETED
    wait_until(lambda: queued_messages() == 0, timeout=30, what="every message to be consumed")
    assert_recorded_once(run_id)
    for step_id in committed:  # ran once, recorded once: the redelivered message was discarded by the fence
        step = by_id[step_id]
        assert executions(run_id, step.name) == 1
        assert history(step_id) == [(AttemptOutcome.COMPLETED, victim)]
    assert Worker.objects.get(name=victim).status == WorkerStatus.DEAD


# --- killed with completions waiting in the group commit ------------------------------------------------------


def test_a_worker_killed_with_completions_waiting_in_the_group_commit_runs_them_again_and_records_them_once(
    nodes: Processes, tmp_path: Path
) -> None:
    victim, survivor = "gc-waiting-victim", "gc-waiting-survivor"
    run_id, waiting, by_id = held_run(nodes, victim, "before-send", tmp_path / "batch.json")
    assert {(by_id[step_id].status, by_id[step_id].attempt) for step_id in waiting} == {(StepStatus.RUNNING, 0)}

    nodes.kill(victim)
    start_node(nodes, survivor, GROUP_COMMIT_FAN_OUT)

    run = wait_for_run(run_id, timeout=60)
    assert run.status == RunStatus.COMPLETED
    for step_id in waiting:  # lost with the worker, run again once it was declared dead, recorded once
        step = StepRun.objects.get(id=step_id)
        assert executions(run_id, step.name) == 2
        assert history(step_id) == [(AttemptOutcome.REASSIGNED, victim), (AttemptOutcome.COMPLETED, survivor)]
    redeliver([(step_id, 0) for step_id in waiting])  # the dead worker's messages, for attempts that are over
    wait_until(lambda: queued_messages() == 0, timeout=30, what="every message to be consumed")
    assert_recorded_once(run_id)
    others = [step.name for step in steps(run_id).values() if str(step.id) not in waiting]
    assert {name: executions(run_id, name) for name in others} == dict.fromkeys(others, 1)
    assert Worker.objects.get(name=victim).status == WorkerStatus.DEAD
