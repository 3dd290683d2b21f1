"""Batch membership decided in Postgres (engine/batching.py): members join their group when published, a group
is flushed on size, payload size or interval, and a key's batches under way are bounded. On a queue nobody
serves: the batch messages go to the broker and stay there."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from django.utils import timezone

from sfpserver.engine import batching, lifecycle
from sfpserver.engine.batching import MAX_BATCH_BYTES, _due, _take
from sfpserver.engine.definitions import StepDef, WorkflowDef
from sfpserver.engine.exceptions import InvalidWorkflowError
from sfpserver.engine.models import BatchMember, StepBatch, StepRun
from sfpserver.engine.trigger import TriggerRequest, trigger_many
from tests.conftest import wait_until

NOW = timezone.now()


def member(size: int = 10, age: float = 0.0, max_size: int = 3, interval: float | None = 1.0) -> BatchMember:
    return BatchMember(
        step_id=uuid4(), size=size, max_size=max_size, interval=interval, joined_at=NOW - timedelta(seconds=age)
    )


DUE = [
    # members (oldest first), due
    ([member(), member()], False),
    ([member(), member(), member()], True),
    ([member(age=1.5), member()], True),
    ([member(age=1.5, interval=None)], False),
    ([member(size=MAX_BATCH_BYTES // 2), member(size=MAX_BATCH_BYTES // 2)], True),
]


@pytest.mark.parametrize(("members", "due"), DUE)
def test_a_group_is_due_on_size_payload_or_interval(members: list[BatchMember], due: bool) -> None:
    assert _due(members, NOW) is due


TAKE = [
    # sizes of the open members, max_size, how many one batch takes
    ([10, 10, 10, 10], 3, 3),
    ([10], 3, 1),
    ([MAX_BATCH_BYTES // 2, MAX_BATCH_BYTES // 2, 10], 3, 2),
    ([MAX_BATCH_BYTES + 1, 10], 3, 1),
]


@pytest.mark.parametrize(("sizes", "max_size", "taken"), TAKE)
def test_a_batch_takes_the_oldest_members_up_to_its_size_and_payload(
    sizes: list[int], max_size: int, taken: int
) -> None:
    members = [member(size=size, max_size=max_size) for size in sizes]
    assert _take(members) == members[:taken]


@pytest.mark.parametrize(
    ("settings", "field", "problem"),
    [
        ({"max_size": 0, "interval": 1}, "batch.max_size", "must be a whole number >= 1, got 0"),
        ({"max_size": 2, "interval": -1}, "batch.interval", "must be a number of seconds >= 0, got -1"),
    ],
)
def test_bad_batch_settings_are_refused_naming_the_field(settings: dict[str, Any], field: str, problem: str) -> None:
    with pytest.raises(InvalidWorkflowError) as refused:
        batching.spec(settings, {})
    assert (refused.value.field, refused.value.problem) == (field, problem)


def test_a_group_key_that_is_not_a_string_is_kept_as_the_members_error() -> None:
    found = batching.spec({"max_size": 2, "interval": 1, "group_key": "input.n"}, {"input": {"n": 3}})
    assert found == {
        "max_size": 2,
        "interval": 1,
        "max_runs": None,
        "key_error": "failed to parse batch group key expression 'input.n': it gave int, not a string",
    }


# --- in Postgres -----------------------------------------------------------------------------------------------


def _batched(max_size: int, max_runs: int | None, count: int) -> list[UUID]:
    settings = {"max_size": max_size, "interval": None, "group_key": "input.k", "max_runs": max_runs}
    definition = WorkflowDef(
        f"batching-{uuid4().hex[:8]}",
        steps=(StepDef("b", f"t:{uuid4().hex}", queue="batching-unserved", batch=settings),),
    )
    return trigger_many([TriggerRequest(definition, {"k": "one"}) for _ in range(count)])


@pytest.mark.usefixtures("db_access")
def test_members_published_together_fill_batches_and_the_rest_waits_for_more() -> None:
    runs = _batched(max_size=2, max_runs=None, count=5)
    steps = list(StepRun.objects.filter(run_id__in=runs))
    members = wait_until(lambda: list(BatchMember.objects.filter(step_id__in=[s.id for s in steps])), what="joins")
    by_batch = sorted(sum(1 for m in members if m.batch_id == b) for b in {m.batch_id for m in members})
    assert ({s.queue.split(":")[0] for s in steps}, by_batch) == ({"batch"}, [1, 2, 2])
    assert next(m for m in members if m.batch_id is None).key == "one"
    for run in runs:
        lifecycle.cancel_run(run)


@pytest.mark.usefixtures("db_access")
def test_a_key_has_no_more_batches_under_way_than_its_limit() -> None:
    runs = _batched(max_size=2, max_runs=1, count=4)
    step_ids = list(StepRun.objects.filter(run_id__in=runs).values_list("id", flat=True))
    wait_until(lambda: BatchMember.objects.filter(step_id__in=step_ids).count() == 4, what="joins")
    first = set(
        BatchMember.objects.filter(step_id__in=step_ids, batch__isnull=False).values_list("batch_id", "step_id")
    )
    batch_ids = {batch for batch, _ in first}
    for _, step_id in first:  # the batch under way ends
        lifecycle.cancel_run(StepRun.objects.get(id=step_id).run_id)
    action = StepRun.objects.get(id=step_ids[0]).action
    made, _ = batching.flush(action, "one")
    assert (len(first), len(batch_ids), len(made)) == (2, 1, 1)
    assert StepBatch.objects.filter(id=made[0][0]).exists()
    for run in runs:
        lifecycle.cancel_run(run)


@pytest.mark.usefixtures("db_access")
def test_a_member_published_again_keeps_its_batch_and_a_new_attempt_joins_afresh() -> None:
    from sfpserver.engine.dispatch import Dispatch, publish

    runs = _batched(max_size=2, max_runs=None, count=2)
    steps = list(StepRun.objects.filter(run_id__in=runs))
    joined = wait_until(
        lambda: list(BatchMember.objects.filter(step_id__in=[s.id for s in steps], batch__isnull=False)),
        what="a batch",
    )
    publish([Dispatch(s.id, s.attempt, s.queue) for s in steps])  # the sweeper, much later
    again = {
        m.step_id: (m.batch_id, m.joined_at) for m in BatchMember.objects.filter(step_id__in=[s.id for s in steps])
    }
    assert again == {m.step_id: (m.batch_id, m.joined_at) for m in joined}
    StepRun.objects.filter(id=steps[0].id).update(attempt=1)  # as a reassignment would
    publish([Dispatch(steps[0].id, 1, steps[0].queue)])
    rejoined = BatchMember.objects.get(step_id=steps[0].id)
    assert (rejoined.attempt, rejoined.batch_id, rejoined.joined_at > joined[0].joined_at) == (1, None, True)
    for run in runs:
        lifecycle.cancel_run(run)
