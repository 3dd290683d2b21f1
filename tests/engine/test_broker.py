"""The step messages the engine writes onto Redis itself (engine/broker.py) are the ones Celery would have sent: the
same list (priority step), the same envelope, headers and properties, the same body; only the ids differ. So a
Celery or kombu upgrade that changes its messages fails here, not in a worker that cannot read ours."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from typing import Any
from uuid import UUID, uuid4

import pytest
import redis
from django.conf import settings

from sfpserver.engine import broker, dispatch
from sfpserver.engine.definitions import StepDef, WorkflowDef
from sfpserver.engine.messages import Dispatch
from sfpserver.engine.models import StepRun, StepStatus, WaitingFor, WorkflowRun
from sfpserver.engine.trigger import trigger
from tests.conftest import wait_until

FRESH_PER_MESSAGE = {"id", "root_id", "correlation_id", "delivery_tag", "argsrepr", "origin", "reply_to"}


@pytest.fixture
def client() -> Iterator[redis.Redis]:
    """A client of the broker's Redis, once this process's confirmer (engine/dispatch.py) is idle: the answers the
    tests read must not be read by it first."""
    confirmer = dispatch._confirmer_now
    if confirmer is not None:
        wait_until(lambda: not confirmer.due.is_set(), what="the confirmer to be idle")
        time.sleep(2 * dispatch.CONFIRM_AFTER)
    found = redis.Redis.from_url(settings.REDIS_URL)
    yield found
    for key in found.keys("broker-test-*"):
        found.delete(key)
    found.close()


def _pushed(client: redis.Redis, queue: str) -> tuple[str, dict[str, Any]]:
    keys = client.keys(f"{queue}*")
    assert len(keys) == 1, keys
    raw = client.lrange(keys[0], 0, -1)
    assert len(raw) == 1
    return keys[0].decode(), json.loads(raw[0])


def _comparable(message: dict[str, Any]) -> dict[str, Any]:
    """The message without what is fresh in every message (ids, the sender's name)."""
    headers = {k: v for k, v in message["headers"].items() if k not in FRESH_PER_MESSAGE}
    properties = {k: v for k, v in message["properties"].items() if k not in FRESH_PER_MESSAGE}
    body = json.loads(base64.b64decode(message["body"]))
    rest = {k: v for k, v in message.items() if k not in ("headers", "properties", "body")}
    return {**rest, "headers": headers, "properties": properties, "body": body}


@pytest.mark.parametrize("priority", [1, 2, 3, 4])
def test_a_step_message_is_the_one_celery_would_have_sent(client: redis.Redis, priority: int) -> None:
    step = uuid4()
    ours, celerys = f"broker-test-{uuid4().hex[:8]}", f"broker-test-{uuid4().hex[:8]}"
    assert broker.send([Dispatch(step, 3, ours, priority)], {step: "deploy:validate"}) == []
    assert broker.confirm_all() == []  # its answer read: the push is in
    dispatch._send_through_celery([Dispatch(step, 3, celerys, priority)], {step: "deploy:validate"})

    our_key, our_message = _pushed(client, ours)
    celery_key, celery_message = _pushed(client, celerys)
    assert our_key.removeprefix(ours) == celery_key.removeprefix(celerys)  # the same priority step's list
    expected = _comparable(celery_message)
    expected["properties"]["delivery_info"]["routing_key"] = ours
    assert _comparable(our_message) == expected
    assert our_message["headers"]["argsrepr"] == celery_message["headers"]["argsrepr"]
    assert our_message["headers"]["id"] == our_message["properties"]["correlation_id"]


def test_one_pipeline_carries_every_message_of_a_commit(client: redis.Redis) -> None:
    queue = f"broker-test-{uuid4().hex[:8]}"
    steps = [uuid4() for _ in range(5)]
    broker.send([Dispatch(step, 1, queue, 2) for step in steps], {})
    assert broker.confirm_all() == []
    (key,) = client.keys(f"{queue}*")
    sent = [json.loads(base64.b64decode(json.loads(raw)["body"]))[0] for raw in client.lrange(key, 0, -1)]
    assert sorted(sent) == sorted([str(step), 1] for step in steps)


def test_a_push_the_broker_refuses_is_reported_at_the_next_send_and_only_it(client: redis.Redis) -> None:
    refusing, fine = f"broker-test-{uuid4().hex[:8]}", f"broker-test-{uuid4().hex[:8]}"
    client.set(broker.list_key(refusing, broker.broker_priority(2)), "not a list")  # LPUSH on it: WRONGTYPE
    first, second, third = uuid4(), uuid4(), uuid4()
    assert broker.send([Dispatch(first, 1, fine, 2), Dispatch(second, 1, refusing, 2)], {}) == []  # not read yet

    assert broker.send([Dispatch(third, 1, fine, 2)], {}) == [second]  # the earlier answers, read now
    assert broker.confirm_all() == []
    assert client.llen(broker.list_key(fine, broker.broker_priority(2))) == 2


def test_pushes_whose_answers_are_lost_with_the_connection_are_reported_as_not_taken(client: redis.Redis) -> None:
    queue = f"broker-test-{uuid4().hex[:8]}"
    steps = [uuid4(), uuid4()]
    link = broker._link()
    assert broker.send([], {}) == []  # nothing unread on the link now
    link.conn.send_command("CLIENT", "ID")
    link_id = link.conn.read_response()

    client.execute_command("CLIENT", "PAUSE", 10_000, "WRITE")  # Redis holds the pushes, unanswered
    try:
        broker.send([Dispatch(step, 1, queue, 2) for step in steps], {})
        wait_until(lambda: _blocked(client, link_id), interval=0.01, what="the pushes to reach Redis")
        client.execute_command("CLIENT", "KILL", "ID", link_id)  # the connection drops before they are answered
    finally:
        client.execute_command("CLIENT", "UNPAUSE")

    assert sorted(broker.confirm_all()) == sorted(steps)  # not known to be in: the scheduler sends them again
    assert client.llen(broker.list_key(queue, broker.broker_priority(2))) == 0  # (here, none got in)
    assert broker.send([], {}) == [] and broker.confirm_all() == []  # a new connection next time


def _blocked(client: redis.Redis, link_id: int) -> bool:
    """Whether Redis holds a command of the client (`CLIENT LIST`: its last command, and blocked/paused flags)."""
    for line in client.execute_command("CLIENT", "LIST", "ID", link_id).decode().splitlines():
        fields = dict(item.split("=", 1) for item in line.split(" ") if "=" in item)
        if fields.get("cmd") == "lpush" or "b" in fields.get("flags", ""):
            return True
    return False


def test_a_thread_that_ended_leaves_its_refusals_to_the_next_send(client: redis.Redis) -> None:
    refusing, fine = f"broker-test-{uuid4().hex[:8]}", f"broker-test-{uuid4().hex[:8]}"
    client.set(broker.list_key(refusing, broker.broker_priority(2)), "not a list")
    step = uuid4()
    sender = threading.Thread(target=broker.send, args=([Dispatch(step, 1, refusing, 2)], {}))
    sender.start()
    sender.join()
    found: list[UUID] = []
    other = threading.Thread(target=lambda: found.extend(broker.send([Dispatch(uuid4(), 1, fine, 2)], {})))
    other.start()  # a new thread's first send closes the ended thread's connection, reading its answers
    other.join()
    assert found == [step]


def test_each_new_thread_gets_a_connection_of_its_own_though_an_ended_thread_had_its_ident(client: redis.Redis) -> None:
    # An ended thread's connection may be dead (Redis restarted since): a thread given the same ident (Linux gives
    # an ended thread's ident to the next one, mostly at once) must not write on it. It did: the push failed and its
    # step waited for the scheduler.
    queue = f"broker-test-{uuid4().hex[:8]}"
    links: list[object] = []

    def send_one() -> None:
        broker.send([Dispatch(uuid4(), 1, queue, 2)], {})
        links.append(broker._link())

    for _ in range(5):  # one after the other: each starts once the one before has ended
        thread = threading.Thread(target=send_one)
        thread.start()
        thread.join()
    assert len({id(link) for link in links}) == 5
    assert broker.confirm_all() == []
    assert client.llen(broker.list_key(queue, broker.broker_priority(2))) == 5


@pytest.mark.usefixtures("db_access")
def test_a_trigger_whose_message_the_broker_refused_leaves_its_step_to_the_scheduler(client: redis.Redis) -> None:
    queue = f"broker-test-{uuid4().hex[:8]}"
    client.set(broker.list_key(queue, broker.broker_priority(1)), "not a list")
    run_id = trigger(WorkflowDef(f"refused-{uuid4().hex[:8]}", steps=(StepDef("only", "t:echo", queue=queue),)))
    try:
        step = StepRun.objects.get(run_id=run_id)
        # The answer is read a moment later, by the process's confirmer: the step then waits for the scheduler.
        wait_until(lambda: StepRun.objects.get(id=step.id).waiting_for == WaitingFor.BROKER, what="the step's wait")
        assert StepRun.objects.get(id=step.id).status == StepStatus.QUEUED
    finally:
        WorkflowRun.objects.filter(id=run_id).delete()  # not left for the scheduler to publish again and again
