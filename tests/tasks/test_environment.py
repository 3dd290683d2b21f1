"""Environment configuration: lock an org with a ticket, refuse a second lock, unlock only with the ticket."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sfpserver.engine import registry
from sfpserver.engine.models import Worker
from sfpserver.engine.trigger import trigger
from tasks import environments
from tasks.models import EnvironmentLock
from tests.conftest import Processes, wait_until
from tests.engine.helpers import attempts, steps, wait_for_run
from tests.tasks.conftest import Org, run, store_org
from tests.tasks.conftest import output as step_output


def output(run_id: Any) -> dict[str, Any]:
    return step_output(run_id, "configure_environment")


def error(run_id: Any) -> str:
    return str(steps(run_id)["configure_environment"].error)


@pytest.mark.usefixtures("platform")
def test_an_environment_is_locked_with_a_ticket_and_unlocked_only_with_it(orgs: dict[str, Org]) -> None:
    env = orgs["staging"].name
    locked = run("sfp-environment", {"environment": env, "action": "lock", "duration_minutes": 30, "reason": "release"})
    assert locked.status == "COMPLETED"
    lock = output(locked.id)
    assert (lock["status"], lock["environmentName"], lock["duration"]) == ("acquired", env, 30)
    assert (lock["salesforceUsername"], lock["instanceUrl"]) == (
        f"ci@{env}.example",
        f"https://{env}.my.salesforce.com",
    )

    busy = run("sfp-environment", {"environment": env, "action": "lock"})
    assert busy.status == "FAILED"
    assert error(busy.id).startswith(f"environment {env!r} is locked until ")

    wrong = run("sfp-environment", {"environment": env, "action": "unlock", "ticket": str(uuid.uuid4())})
    assert error(wrong.id) == f"the ticket does not match the lock held on environment {env!r}"

    released = run("sfp-environment", {"environment": env, "action": "unlock", "ticket": lock["ticketId"]})
    assert output(released.id) == {"status": "released", "environmentName": env, "ticketId": lock["ticketId"]}


@pytest.mark.usefixtures("platform")
def test_locking_an_unknown_environment_fails_naming_it(db_access: None) -> None:
    finished = run("sfp-environment", {"environment": "no-such-env", "action": "lock"})

    assert error(finished.id) == "unknown environment 'no-such-env': no org credential by that name in the vault"


ONE_SLOT = "env-one-slot"


def on_queue(queue: str, input: dict[str, Any]) -> Any:
    """Trigger sfp-environment with its step sent to `queue` (served by a worker of one slot)."""
    definition = registry.get_workflow("sfp-environment")
    steps_there = tuple(dataclasses.replace(step, queue=queue) for step in definition.steps)
    return trigger(dataclasses.replace(definition, steps=steps_there), input)


def test_a_lock_waiter_holds_no_slot_while_it_waits_and_gets_the_lock_when_it_is_released(
    platform: Processes,
) -> None:
    env = store_org(f"t-env-{uuid.uuid4().hex[:8]}").name
    queue = f"env-{uuid.uuid4().hex[:8]}"
    node = platform.start_node(ONE_SLOT, queue, concurrency=1)
    try:
        wait_until(lambda: Worker.objects.filter(pid=node.pid, status="ACTIVE").exists(), what="the one-slot worker")
        holder = wait_for_run(on_queue(queue, {"environment": env, "action": "lock", "duration_minutes": 30}))
        ticket = output(holder.id)["ticketId"]

        waiter = on_queue(queue, {"environment": env, "action": "lock", "wait_minutes": 10})
        wait_until(
            lambda: steps(waiter)["configure_environment"].waiting_for == "condition", what="the waiter to be evicted"
        )
        assert steps(waiter)["configure_environment"].worker_id is None  # it holds no slot while it waits

        # The only slot is free: the unlock runs on it meanwhile, and its event wakes the waiter.
        released = wait_for_run(on_queue(queue, {"environment": env, "action": "unlock", "ticket": ticket}))
        assert released.status == "COMPLETED"
        finished = wait_for_run(waiter, timeout=60)
        assert finished.status == "COMPLETED", error(waiter)
        lock = output(waiter)
        assert (lock["status"], lock["environmentName"]) == ("acquired", env)
        assert lock["ticketId"] != ticket
        assert EnvironmentLock.objects.get(environment=env).run_id == waiter
        outcomes = [a["outcome"] for a in attempts(steps(waiter)["configure_environment"])]
        assert outcomes == ["EVICTED", "COMPLETED"]
    finally:
        platform.stop(ONE_SLOT)


NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("deadline_in", "pause"),
    [
        (timedelta(minutes=10), environments.RETRY_EVERY),  # tries again each minute
        (timedelta(seconds=20), timedelta(seconds=20)),  # never past its deadline
        (timedelta(seconds=2.2), timedelta(seconds=3)),  # whole seconds, rounded up
        (timedelta(seconds=-5), timedelta(seconds=1)),  # at least a second
    ],
)
def test_a_lock_waiter_tries_again_by_its_deadline_or_each_minute(deadline_in: timedelta, pause: timedelta) -> None:
    assert environments.next_try_in(NOW, NOW + deadline_in) == pause


def test_a_try_to_lock_is_safe_to_repeat_by_the_run_that_holds_the_lock(db_access: None) -> None:
    env = store_org(f"t-env-{uuid.uuid4().hex[:8]}").name
    holder, other = str(uuid.uuid4()), str(uuid.uuid4())
    first = environments.try_lock(env, minutes=30, run_id=holder)
    again = environments.try_lock(env, minutes=30, run_id=holder)  # a durable task's replay tries again
    refused = environments.try_lock(env, minutes=30, run_id=other)
    assert isinstance(first, dict) and isinstance(again, dict)
    assert again["ticketId"] == first["ticketId"]
    assert isinstance(refused, environments.Held)
    assert refused.until == EnvironmentLock.objects.get(environment=env).expires_at
