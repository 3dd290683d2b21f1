"""Routing at publish (engine/affinity.py) against Postgres: which live worker's own queue a step with affinity
goes to, decided from the Worker rows; a step no live worker may take waits for the sweeper."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from uuid import uuid4

import pytest
from django.utils import timezone

from sfpserver.engine import affinity, lifecycle
from sfpserver.engine.definitions import StepDef, WorkflowDef
from sfpserver.engine.dispatch import Dispatch
from sfpserver.engine.models import StepRun, Worker, WorkerStatus
from sfpserver.engine.trigger import TriggerRequest, trigger_many
from tests.conftest import wait_until

pytestmark = pytest.mark.usefixtures("db_access")


@pytest.fixture
def queue() -> str:
    return f"routing-{uuid4().hex[:8]}"


@pytest.fixture
def workers(queue: str) -> Iterator[dict[str, Worker]]:
    made: dict[str, Worker] = {}

    def worker(name: str, labels: dict[str, object], **fields: object) -> None:
        worker_id = uuid4()
        defaults = {"status": WorkerStatus.ACTIVE, "last_heartbeat": timezone.now()}
        made[name] = Worker.objects.create(
            id=worker_id,
            name=name,
            pool="hatchet",
            queues=[queue, affinity.worker_queue(worker_id)],
            hostname="h",
            pid=1,
            slots=1,
            labels=labels,
            **{**defaults, **fields},
        )

    worker("eu", {"zone": "eu"})
    worker("us", {"zone": "us", "memory": 4096})
    worker("paused", {"zone": "asia"}, status=WorkerStatus.PAUSED)
    worker("silent", {"zone": "africa"}, last_heartbeat=timezone.now() - timedelta(minutes=5))
    yield made
    Worker.objects.filter(id__in=[w.id for w in made.values()]).delete()


def run_of(queue: str, labels: list[dict[str, Any]]) -> list[StepRun]:
    definition = WorkflowDef(f"routing-{uuid4().hex[:8]}", steps=(StepDef("only", "t:none", queue=queue),))
    run_id = trigger_many([TriggerRequest(definition, desired_worker_labels=labels)])[0]
    return list(StepRun.objects.filter(run_id=run_id))


def routed(step: StepRun) -> list[str]:
    routing = affinity.route([Dispatch(step.id, step.attempt, step.queue)])
    return [item.queue for item in routing.ready] + [f"unplaced {s}" for s in routing.unplaced]


@pytest.mark.parametrize(
    ("labels", "chosen"),
    [
        ([{"key": "zone", "value": "eu", "required": True}], "eu"),
        ([{"key": "memory", "value": 1024, "comparator": "GREATER_THAN", "weight": 5}], "us"),
        ([{"key": "zone", "value": "eu", "comparator": 1, "required": True}], "us"),
    ],
)
def test_a_step_goes_to_the_own_queue_of_the_best_live_worker(
    queue: str, workers: dict[str, Worker], labels: list[dict[str, object]], chosen: str
) -> None:
    [step] = run_of(queue, labels)
    assert (step.queue, routed(step)) == (f"affinity:{queue}", [affinity.worker_queue(workers[chosen].id)])
    lifecycle.cancel_run(step.run_id)


@pytest.mark.parametrize("zone", ["asia", "africa", "antarctica"])
def test_a_paused_or_silent_worker_or_none_at_all_takes_no_step(
    queue: str, workers: dict[str, Worker], zone: str
) -> None:
    [step] = run_of(queue, [{"key": "zone", "value": zone, "required": True}])
    assert routed(step) == [f"unplaced {step.id}"]
    lifecycle.cancel_run(step.run_id)


def test_a_step_no_worker_may_take_waits_for_the_sweeper(queue: str, workers: dict[str, Worker]) -> None:
    [step] = run_of(queue, [{"key": "zone", "value": "antarctica", "required": True}])
    wait_until(lambda: StepRun.objects.get(id=step.id).waiting_for == "broker", what="the step to wait")
    lifecycle.cancel_run(step.run_id)


def test_a_step_without_affinity_keeps_its_queue_and_costs_no_query(queue: str, django_assert_num_queries: Any) -> None:
    definition = WorkflowDef(f"routing-{uuid4().hex[:8]}", steps=(StepDef("only", "t:none", queue=queue),))
    run_id = trigger_many([TriggerRequest(definition)])[0]
    step = StepRun.objects.get(run_id=run_id)
    with django_assert_num_queries(0):
        routing = affinity.route([Dispatch(step.id, step.attempt, step.queue)])
    assert ([item.queue for item in routing.ready], routing.unplaced) == ([queue], [])
    lifecycle.cancel_run(run_id)


def test_a_bad_run_label_is_refused_naming_the_field(queue: str) -> None:
    from sfpserver.engine.exceptions import InvalidWorkflowError

    with pytest.raises(InvalidWorkflowError) as refused:
        run_of(queue, [{"key": "zone", "value": "eu", "comparator": "ABOUT"}])
    assert refused.value.field == "desired_worker_labels.comparator"
