"""Idempotency keys on real workers: a trigger whose key another run holds starts nothing and names that run;
concurrent triggers with one key start one run (Postgres decides); a TTL key is free again after its TTL, a STATUS
key once its run ends; a bulk trigger names its collisions; a duplicate event starts nothing."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import pytest
from django.db import connection

from sfpserver.engine.models import IdempotencyKey, WorkflowRun
from sfpserver.hatchet import BulkTriggerIdempotencyCollisionError, IdempotencyCollisionError
from tests.conftest import wait_until
from tests.hatchet import feature_workflows as fw

pytestmark = pytest.mark.usefixtures("sdk_worker")


def runs_with_key(key: str) -> list[str]:
    return [str(run_id) for run_id in WorkflowRun.objects.filter(input__id=key).values_list("id", flat=True)]


def test_a_second_trigger_with_a_held_key_starts_nothing_and_names_the_run_that_holds_it() -> None:
    key = str(uuid.uuid4())
    first = fw.idempotent.run(fw.KeyedInput(id=key), wait_for_result=False)
    with pytest.raises(IdempotencyCollisionError) as caught:
        fw.idempotent.run(fw.KeyedInput(id=key), wait_for_result=False)
    assert caught.value.existing_run_external_id == first.workflow_run_id
    assert runs_with_key(key) == [first.workflow_run_id]
    assert first.result() == {"id": key}


def test_concurrent_triggers_with_one_key_start_exactly_one_run() -> None:
    key = str(uuid.uuid4())
    barrier = threading.Barrier(8)
    started: list[str] = []
    collided: list[str] = []

    def trigger() -> None:
        try:
            barrier.wait()
            ref = fw.idempotent_by_status.run(fw.KeyedInput(id=key, sleep=1), wait_for_result=False)
            started.append(ref.workflow_run_id)
        except IdempotencyCollisionError as error:
            collided.append(error.existing_run_external_id)
        finally:
            connection.close()

    threads = [threading.Thread(target=trigger) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(started) == 1
    assert collided == started * 7
    assert runs_with_key(key) == started


def test_a_ttl_key_is_free_again_once_its_ttl_has_passed() -> None:
    key = str(uuid.uuid4())
    first = fw.idempotent.run(fw.KeyedInput(id=key), wait_for_result=False)
    first.result()  # the run has ended: a TTL key is held all the same
    with pytest.raises(IdempotencyCollisionError):
        fw.idempotent.run(fw.KeyedInput(id=key), wait_for_result=False)

    def retrigger() -> Any:
        try:
            return fw.idempotent.run(fw.KeyedInput(id=key), wait_for_result=False)
        except IdempotencyCollisionError:
            return None

    second = wait_until(retrigger, timeout=30, interval=0.5, what="the key's 2 s TTL to pass")
    assert second.workflow_run_id != first.workflow_run_id
    assert sorted(runs_with_key(key)) == sorted([first.workflow_run_id, second.workflow_run_id])
    assert IdempotencyKey.objects.get(key=key).run_id == uuid.UUID(second.workflow_run_id)


def test_a_status_key_is_held_while_its_run_runs_and_free_once_it_ends() -> None:
    key = str(uuid.uuid4())
    first = fw.idempotent_by_status.run(fw.KeyedInput(id=key, sleep=1), wait_for_result=False)
    with pytest.raises(IdempotencyCollisionError) as caught:
        fw.idempotent_by_status.run(fw.KeyedInput(id=key), wait_for_result=False)
    assert caught.value.existing_run_external_id == first.workflow_run_id
    first.result()
    second = fw.idempotent_by_status.run(fw.KeyedInput(id=key), wait_for_result=False)
    assert second.workflow_run_id != first.workflow_run_id
    assert second.result() == {"id": key}


def test_a_bulk_trigger_starts_one_run_per_key_and_names_the_collisions() -> None:
    key = str(uuid.uuid4())
    items = [fw.idempotent.create_bulk_run_item(fw.KeyedInput(id=key)) for _ in range(2)]
    items.append(fw.idempotent.create_bulk_run_item(fw.KeyedInput(id=f"{key}-other")))
    with pytest.raises(BulkTriggerIdempotencyCollisionError) as caught:
        fw.idempotent.run_many(items, wait_for_result=False)
    successes = caught.value.successful_workflow_run_external_ids
    assert successes == runs_with_key(key) + runs_with_key(f"{key}-other")
    assert [c.existing_run_external_id for c in caught.value.collisions] == runs_with_key(key)


def test_a_duplicate_event_starts_no_second_run() -> None:
    key = str(uuid.uuid4())
    for _ in range(2):
        fw.hatchet.event.push(fw.IDEMPOTENT_EVENT, {"id": key})
    assert len(runs_with_key(key)) == 1
