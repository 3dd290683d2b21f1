"""The API's ASGI handler (config/lanes.py): concurrent requests share a few long-lived threads and their
database connections, instead of a thread and a connection each."""

from __future__ import annotations

import asyncio
import threading
from typing import Any
from uuid import uuid4

from django.db.backends.signals import connection_created

from config.lanes import LanedASGIHandler
from tests.api.conftest import Personas


def scope(path: str, secret: str) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver"), (b"authorization", f"Bearer {secret}".encode())],
        "client": ("127.0.0.1", 40000),
        "server": ("testserver", 80),
    }


async def get(handler: LanedASGIHandler, path: str, secret: str) -> int:
    """The status the handler answers one GET with."""
    answered: list[int] = []
    never = asyncio.Event()  # the client stays connected until the handler is done
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await never.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            answered.append(message["status"])

    await handler(scope(path, secret), receive, send)
    return answered[0]


def test_concurrent_requests_use_one_connection_per_lane_not_one_each(live_personas: Personas) -> None:
    handler = LanedASGIHandler(lanes=2)
    opened_on: list[int] = []

    def opened(sender: Any, connection: Any, **kwargs: Any) -> None:
        opened_on.append(threading.get_ident())

    async def twelve_at_once() -> list[int]:
        paths = [f"/sfp/api/tasks/{uuid4()}/status" for _ in range(12)]
        return list(await asyncio.gather(*(get(handler, path, live_personas.member.secret) for path in paths)))

    connection_created.connect(opened)
    try:
        statuses = asyncio.run(twelve_at_once())
        statuses += asyncio.run(twelve_at_once())  # a later event loop: the lanes and their connections stay
    finally:
        connection_created.disconnect(opened)
        handler.shutdown()
    assert statuses == [404] * 24  # each request authenticated by its token (a database read) and answered
    assert 1 <= len(opened_on) <= 2 and len(set(opened_on)) == len(opened_on)


def test_a_handler_needs_at_least_one_lane() -> None:
    try:
        LanedASGIHandler(lanes=0)
    except ValueError as exc:
        assert str(exc) == "lanes: expected at least 1, got 0"
    else:
        raise AssertionError("a handler without lanes was made")
