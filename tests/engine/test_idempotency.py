"""Idempotency keys in the engine (engine/idempotency.py), inside a test's transaction: the key's configuration
is checked with the definition, a key that cannot be computed refuses the trigger naming the field, requests of one
bulk trigger with one key start one run, and expired keys are pruned. (Concurrent triggers on real workers:
tests/hatchet/test_idempotency.py.)"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from sfpserver.engine import idempotency
from sfpserver.engine.definitions import StepDef, WorkflowDef
from sfpserver.engine.exceptions import IdempotencyCollision, InvalidWorkflowError
from sfpserver.engine.models import IdempotencyKey, WorkflowRun
from sfpserver.engine.trigger import TriggerRequest, start_many, trigger, trigger_many

pytestmark = pytest.mark.django_db


def keyed(**config: Any) -> WorkflowDef:
    spec = {"expression": "input.id", "ttl_seconds": 60, "method": "TTL", **config}
    return WorkflowDef(name="t.keyed", steps=(StepDef(name="only", action="t:echo"),), idempotency=spec)


@pytest.mark.parametrize(
    ("config", "field", "problem"),
    [
        ({"expression": " "}, "idempotency.key_expression", "a non-empty expression is required"),
        ({"ttl_seconds": 0}, "idempotency.ttl", "must be a positive number of seconds, got 0"),
        ({"ttl_seconds": "1m"}, "idempotency.ttl", "must be a positive number of seconds, got '1m'"),
        ({"method": "ONCE"}, "idempotency.method", "must be one of TTL, STATUS"),
    ],
)
def test_a_bad_idempotency_config_is_refused_naming_the_field(config: dict, field: str, problem: str) -> None:
    with pytest.raises(InvalidWorkflowError) as caught:
        keyed(**config).validate()
    assert (caught.value.field, caught.value.problem) == (field, problem)


def test_a_key_that_cannot_be_computed_refuses_the_trigger_and_records_nothing() -> None:
    with pytest.raises(InvalidWorkflowError) as caught:
        trigger(keyed(), {"other": 1})
    assert caught.value.field == "idempotency.key_expression"
    with pytest.raises(InvalidWorkflowError) as caught:
        trigger(keyed(), {"id": {"nested": True}})
    assert caught.value.problem == "'input.id' must give a string or a number, got {'nested': True}"
    assert not WorkflowRun.objects.exists() and not IdempotencyKey.objects.exists()


def test_requests_of_one_bulk_trigger_with_one_key_start_one_run() -> None:
    requests = [
        TriggerRequest(keyed(), {"id": "a"}),
        TriggerRequest(keyed(), {"id": "a"}),
        TriggerRequest(keyed(), {"id": "b"}),
    ]
    with pytest.raises(IdempotencyCollision) as caught:
        trigger_many(requests)
    first, collided, other = caught.value.run_ids
    assert collided is None and caught.value.existing == {1: first}
    assert set(WorkflowRun.objects.values_list("id", flat=True)) == {first, other}


def test_events_drop_a_collided_request_and_name_the_holder() -> None:
    held = trigger(keyed(), {"id": "k"})
    (started,) = start_many([TriggerRequest(keyed(), {"id": "k"})])
    assert (started.run_id, started.holder) == (held, held)
    assert WorkflowRun.objects.count() == 1


def test_keys_expired_are_pruned_and_others_kept() -> None:
    trigger(keyed(), {"id": "old"})
    trigger(keyed(), {"id": "new"})
    IdempotencyKey.objects.filter(key="old").update(expires_at=timezone.now() - timedelta(seconds=1))
    assert idempotency.prune_expired(100) == 1
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["new"]
