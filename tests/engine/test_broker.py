"""The step messages the engine writes onto Redis itself (engine/broker.py) are the ones Celery would have sent: the
same list (priority step), the same envelope, headers and properties, the same body; only the ids differ. So a
Celery or kombu upgrade that changes its messages fails here, not in a worker that cannot read ours."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any
from uuid import uuid4

import pytest
import redis
from django.conf import settings

from sfpserver.engine import broker, dispatch
from sfpserver.engine.messages import Dispatch

FRESH_PER_MESSAGE = {"id", "root_id", "correlation_id", "delivery_tag", "argsrepr", "origin", "reply_to"}


@pytest.fixture
def client() -> Iterator[redis.Redis]:
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
    broker.send([Dispatch(step, 3, ours, priority)], {step: "deploy:validate"})
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
    (key,) = client.keys(f"{queue}*")
    sent = [json.loads(base64.b64decode(json.loads(raw)["body"]))[0] for raw in client.lrange(key, 0, -1)]
    assert sorted(sent) == sorted([str(step), 1] for step in steps)
