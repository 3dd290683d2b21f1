"""The hand-off: a worker that completes a step claims the child it released, in the completion's transaction,
when the child's queue is one it serves; every other released child still goes through the broker. And the
orphan watch: a step the database shows running on a worker that no thread of it runs is re-queued.

The rules are checked in this process on queues nobody serves (real Postgres and Redis: the messages that
were, or were not, published are counted in Redis); the orphan watch on a real worker process.
"""

from __future__ import annotations

from collections.abc import Iterator
from uuid import UUID, uuid4

import pytest
import redis
from django.conf import settings

from sfpserver.engine import drain, lifecycle
from sfpserver.engine.definitions import StepDef, WorkflowDef
from sfpserver.engine.models import Attempt, AttemptOutcome, StepRun, StepStatus, Worker, WorkerStatus, WorkflowRun
from sfpserver.engine.trigger import trigger
from tests.conftest import wait_until
from tests.engine.helpers import attempts, purged_broker, steps

HERE = "hand-off-here"  # the queue the claiming "worker" of these tests serves
ELSEWHERE = "hand-off-elsewhere"


@pytest.fixture
def broker() -> Iterator[redis.Redis]:
    yield from purged_broker(HERE, ELSEWHERE)


def messages(client: redis.Redis, queue: str) -> int:
    """Step messages waiting on `queue`, over its priority lists."""
    return sum(int(client.llen(key)) for key in client.scan_iter(match=f"{queue}*"))


def fan_out() -> UUID:
    """a → (b, c) on this worker's queue, a → e elsewhere, (b, c) → d."""
    return trigger(
        WorkflowDef(
            f"h.fan-{uuid4().hex[:8]}",
            steps=(
                StepDef("a", "t:echo", queue=HERE),
                StepDef("b", "t:echo", parents=("a",), queue=HERE),
                StepDef("c", "t:echo", parents=("a",), queue=HERE),
                StepDef("e", "t:echo", parents=("a",), queue=ELSEWHERE),
                StepDef("d", "t:echo", parents=("b", "c"), queue=HERE),
            ),
        )
    )


WORKER = lifecycle.Claimant(None, "hand-off-test", (HERE,))


def run_step(step: StepRun, output: object, worker: lifecycle.Claimant = WORKER) -> lifecycle.Completion:
    claimed = lifecycle.claim(step.id, step.attempt, worker.id, worker.name)
    assert claimed is not None
    return complete(claimed, output, worker)


def complete(claimed: lifecycle.Claimed, output: object, worker: lifecycle.Claimant) -> lifecycle.Completion:
    completion = lifecycle.complete(claimed, output, claimant=worker)
    assert completion is not None
    return completion


@pytest.mark.usefixtures("db_access")
def test_the_completing_worker_claims_one_released_child_on_its_queue_and_the_broker_carries_the_rest(
    broker: redis.Redis,
) -> None:
    run_id = fan_out()
    before = steps(run_id)
    assert messages(broker, HERE) == 1  # a

    broker.delete(*broker.scan_iter(match=f"{HERE}*"))  # this test plays the worker that took a's message
    handed = run_step(before["a"], {"a": 1}).next

    assert handed is not None and handed.name in {"b", "c"}
    assert handed.parent_outputs == {"a": {"a": 1}}
    after = steps(run_id)
    sibling = after["c" if handed.name == "b" else "b"]
    assert after[handed.name].status == StepStatus.RUNNING
    assert [(a["number"], a["outcome"]) for a in attempts(after[handed.name])] == [(0, AttemptOutcome.RUNNING)]
    assert Attempt.objects.get(step_id=handed.step_id).worker_name == WORKER.name
    assert after[handed.name].lease_hash == lifecycle.lease_hash(handed.lease_secret)  # its own lease secret
    assert handed.lease_secret and after["a"].lease_hash != after[handed.name].lease_hash
    assert (sibling.status, after["e"].status, after["d"].status) == (StepStatus.QUEUED,) * 2 + (StepStatus.PENDING,)
    assert messages(broker, HERE) == 1  # the sibling's, not the handed child's
    assert messages(broker, ELSEWHERE) == 1  # e: a queue this worker does not serve

    # The chain goes on: the handed child completes like any step; the join waits for its sibling.
    assert complete(handed, {"x": 1}, WORKER).next is None
    last = run_step(sibling, {"y": 2}).next  # releases d, which this worker takes
    assert last is not None and last.name == "d"
    assert complete(last, {"z": 3}, WORKER).next is None
    run_step(steps(run_id)["e"], {"e": 4}, lifecycle.Claimant(None, "elsewhere", (ELSEWHERE,)))

    run = WorkflowRun.objects.get(id=run_id)
    assert run.status == "COMPLETED"
    assert run.output is not None and run.output["d"] == {"z": 3} and set(run.output) == {"a", "b", "c", "d", "e"}
    assert messages(broker, HERE) == 1  # nothing more was published for the handed steps


@pytest.mark.usefixtures("db_access")
def test_no_hand_off_without_queues_or_while_draining(broker: redis.Redis) -> None:
    run_id = fan_out()
    assert run_step(steps(run_id)["a"], None, lifecycle.Claimant(None, "plain")).next is None
    assert {name for name, s in steps(run_id).items() if s.status == StepStatus.QUEUED} == {"b", "c", "e"}

    run_id = fan_out()
    claimed = lifecycle.claim(steps(run_id)["a"].id, 0, None, WORKER.name)
    assert claimed is not None
    drain.start()
    try:
        assert complete(claimed, None, WORKER).next is None  # no step starts during a drain
    finally:
        drain.resume()
    assert StepRun.objects.filter(run_id=run_id, status=StepStatus.RUNNING).count() == 0
    for name in ("b", "c", "e"):
        lifecycle.cancel_step(steps(run_id)[name].id)


@pytest.mark.usefixtures("platform")
def test_a_step_the_database_shows_running_on_a_live_worker_that_does_not_run_it_is_requeued() -> None:
    """As when a claim commits but its reply is lost: the retried claim finds the step taken and drops the
    message. The worker's heartbeat notices within ENGINE_ORPHAN_GRACE and re-queues it, using no retry."""
    worker = Worker.objects.filter(pool="standard", status=WorkerStatus.ACTIVE).first()
    assert worker is not None
    run_id = trigger(WorkflowDef(f"h.orphan-{uuid4().hex[:8]}", steps=(StepDef("only", "t:echo", queue=ELSEWHERE),)))
    step = steps(run_id)["only"]
    assert lifecycle.claim(step.id, step.attempt, worker.id, worker.name) is not None

    requeued = StepRun.objects.filter(id=step.id, status=StepStatus.QUEUED, attempt=1)
    wait_until(requeued.exists, timeout=settings.ENGINE_ORPHAN_GRACE + 15, what="the orphan to be re-queued")
    step.refresh_from_db()
    assert (step.app_retry_count, step.internal_retry_count) == (0, 1)
    history = attempts(step)
    assert [(a["number"], a["outcome"]) for a in history] == [(0, AttemptOutcome.REASSIGNED)]
    assert "claimed the step but does not run it" in history[0]["error_message"]
    lifecycle.cancel_step(step.id)
