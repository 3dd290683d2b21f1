"""Driving the live feed through the real ASGI app (config.asgi) with channels' WebsocketCommunicator,
and putting runs in given states by hand: their steps go to a queue that no worker serves."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

from asgiref.sync import sync_to_async
from asgiref.testing import ApplicationCommunicator

from config.asgi import application
from sfpserver.accounts.models import ApiToken
from sfpserver.engine import events, lifecycle
from sfpserver.engine.definitions import StepDef, WorkflowDef
from sfpserver.engine.lifecycle import ErrorInfo
from sfpserver.engine.models import EventKind, StepRun
from sfpserver.engine.trigger import trigger
from sfpserver.live import publisher
from sfpserver.submissions.models import RunCreator

IDLE_QUEUE = "live-tests-nobody-serves-this"
PROTOCOL = "sfp.v1"
PIPELINE = WorkflowDef(
    name="live.idle_pipeline",
    steps=(
        StepDef("checkout", "live:checkout", queue=IDLE_QUEUE),
        StepDef("build", "live:build", parents=("checkout",), retries=1, queue=IDLE_QUEUE),
        StepDef("publish", "live:publish", parents=("build",), queue=IDLE_QUEUE),
    ),
)


def start_run(owner: ApiToken | None = None) -> UUID:
    """A committed run of PIPELINE, created by `owner`'s token when given."""
    run_id = trigger(PIPELINE, {"repository": "sample"})
    if owner is not None:
        RunCreator.objects.create(run_id=run_id, token=owner)
    return run_id


def step(run_id: UUID, name: str) -> StepRun:
    return StepRun.objects.get(run_id=run_id, name=name)


def claim(run_id: UUID, name: str) -> StepRun:
    current = step(run_id, name)
    assert lifecycle.claim(current.id, current.attempt, None, "worker-live-test") is not None
    return step(run_id, name)


def progress(run_id: UUID, name: str, percent: float) -> int:
    current = step(run_id, name)
    data = {"percent": percent}
    return events.record(run_id, current.id, current.attempt, EventKind.PROGRESS, f"{percent}%", data).id


def log(run_id: UUID, name: str, line: str) -> int:
    current = step(run_id, name)
    return events.record(run_id, current.id, current.attempt, EventKind.LOG, line).id


def complete(run_id: UUID, name: str) -> None:
    current = claim(run_id, name)
    assert lifecycle.complete_attempt(current.id, current.attempt, {"step": name})


def complete_claimed(run_id: UUID, name: str) -> None:
    current = step(run_id, name)
    assert lifecycle.complete_attempt(current.id, current.attempt, {"step": name})


def fail(run_id: UUID, name: str, message: str) -> None:
    current = claim(run_id, name)
    assert lifecycle.fail(current.id, current.attempt, ErrorInfo("RuntimeError", message), retryable=True)


def flush() -> None:
    """Wait until this process's publisher has sent everything queued so far."""
    assert publisher.get_publisher().flush(10)


def in_thread(function: Callable[..., Any]) -> Callable[..., Any]:
    return sync_to_async(function, thread_sensitive=True)


class WebsocketCommunicator(ApplicationCommunicator):
    """channels.testing.WebsocketCommunicator's handshake and frames. (channels.testing itself cannot be
    imported without daphne, which the project does not install; this is the same few lines on asgiref.)"""

    def __init__(
        self, app: Any, url: str, headers: list[tuple[bytes, bytes]], subprotocols: list[str] | None = None
    ) -> None:
        parts = urlsplit(url)
        scope = {
            "type": "websocket",
            "path": parts.path,
            "query_string": parts.query.encode(),
            "headers": headers,
            "subprotocols": subprotocols or [],
        }
        super().__init__(app, scope)

    async def connect(self, timeout: float = 1) -> tuple[bool, Any]:
        await self.send_input({"type": "websocket.connect"})
        response = await self.receive_output(timeout)
        if response["type"] == "websocket.close":
            return False, response.get("code", 1000)
        assert response["type"] == "websocket.accept", response
        return True, response.get("subprotocol")

    async def receive_close(self, timeout: float) -> int:
        """The close code the server ends the socket with, skipping what it sends before."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            response = await self.receive_output(max(deadline - loop.time(), 0.01))
            if response["type"] == "websocket.close":
                code: int = response.get("code", 1000)
                return code

    async def receive_json_from(self, timeout: float = 1) -> Any:
        response = await self.receive_output(timeout)
        assert response["type"] == "websocket.send" and "text" in response, response
        return json.loads(response["text"])

    async def disconnect(self, code: int = 1000, timeout: float = 1) -> None:
        await self.send_input({"type": "websocket.disconnect", "code": code})
        await self.wait(timeout)


class Feed:
    """One WebSocket connection to the live feed; a token goes as the dashboard sends it, in the subprotocols
    `["sfp.v1", "bearer.<token>"]`."""

    def __init__(
        self,
        path: str,
        token: str | None = None,
        headers: list[tuple[bytes, bytes]] | None = None,
        subprotocols: list[str] | None = None,
    ) -> None:
        if token is not None:
            subprotocols = [PROTOCOL, f"bearer.{token}"]
        self.communicator = WebsocketCommunicator(application, path, headers=headers or [], subprotocols=subprotocols)
        self.received: list[dict[str, Any]] = []
        self.subprotocol: str | None = None  # what the server answered with

    async def connect(self) -> tuple[bool, int | None]:
        connected, answer = await self.communicator.connect(timeout=10)
        if connected:
            self.subprotocol = answer
            return True, None
        return False, answer

    async def next(self, timeout: float = 10) -> dict[str, Any]:
        message: dict[str, Any] = await self.communicator.receive_json_from(timeout=timeout)
        self.received.append(message)
        return message

    async def until(self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 30) -> dict[str, Any]:
        """Read messages until one matches; every message read is kept in `received`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            left = deadline - loop.time()
            if left <= 0:
                raise AssertionError(f"no matching message within {timeout}s; got {[m['type'] for m in self.received]}")
            message = await self.next(timeout=left)
            if predicate(message):
                return message

    async def drain(self, quiet: float = 0.5) -> list[dict[str, Any]]:
        """Every message until none comes for `quiet` seconds (after the publisher flushed)."""
        while not await self.communicator.receive_nothing(timeout=quiet):
            await self.next()
        return self.received

    async def close(self) -> None:
        await self.communicator.disconnect()


def run_status(run_id: UUID | str, *statuses: str) -> Callable[[dict[str, Any]], bool]:
    """A state message of the run in one of `statuses`."""
    return lambda m: m["type"] in ("run", "step") and m["run"]["id"] == str(run_id) and m["run"]["status"] in statuses


def steps_of(message: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["name"]: s for s in message["run"]["steps"]}
