"""Django's ASGI handler with each request's synchronous part on one of a few long-lived threads ("lanes").

Django's own handler runs every request's sync code (middleware, DRF views, the ORM) on a thread made for
that request alone. Django's database connections are per thread, so each request then opened a connection
of its own (a few ms, the engine's prepared statements lost with it) and left it open, unusable, until the
garbage collector closed it: with CONN_MAX_AGE > 0 they piled up under load until Postgres refused new ones
("too many clients", answered 503 `unavailable`). Here a request waits for a free lane, then runs on it: a
lane's thread keeps its connection between requests (DB_CONN_MAX_AGE, health-checked as before), so an API
process holds at most API_THREADS connections, and one slow request holds up one lane, not the others.

Invariant: every thread-sensitive call of one request runs on the one lane it was given, one request per lane
at a time (asgiref's ThreadSensitiveContext with an executor of one thread, reused across requests).
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.core.handlers.asgi import ASGIHandler
from django.db import connections
from django.http import FileResponse, HttpRequest, HttpResponseBase


class LanedASGIHandler(ASGIHandler):
    """`ASGIHandler` with its per-request thread replaced by the first free of `lanes` reusable threads."""

    def __init__(self, lanes: int) -> None:
        super().__init__()
        self.load_middleware(is_async=False)  # the chain runs whole on the lane: one thread hop, not one per middleware
        if lanes < 1:
            raise ValueError(f"lanes: expected at least 1, got {lanes}")
        self.lanes = [ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"api-lane-{i}") for i in range(lanes)]
        self._free: tuple[asyncio.AbstractEventLoop, asyncio.Queue[ThreadPoolExecutor]] | None = None

    def free_lanes(self) -> asyncio.Queue[ThreadPoolExecutor]:
        """The idle lanes, in a queue of the running event loop: take one to run sync work on it, put it back after
        (sfpserver/api/fast_submit.py does too). A server process has one loop; a new one (a test's) takes every lane
        over: the loop before it has ended, and with it every request it served."""
        loop = asyncio.get_running_loop()
        if self._free is None or self._free[0] is not loop:
            free: asyncio.Queue[ThreadPoolExecutor] = asyncio.Queue()
            for lane in self.lanes:
                free.put_nowait(lane)
            self._free = (loop, free)
        return self._free[1]

    def shutdown(self) -> None:
        """Close each lane's database connections and end its thread (for tests: a server process just exits)."""
        for lane in self.lanes:
            lane.submit(connections.close_all).result()
            lane.shutdown()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        free = self.free_lanes()
        lane = await free.get()
        try:
            async with ThreadSensitiveContext(executor=lane):
                await self.handle(scope, receive, send)
        finally:
            free.put_nowait(lane)

    async def run_get_response(self, request: HttpRequest) -> HttpResponseBase:
        """The middleware chain and the view, run as WSGI runs them (sync), in one call on the request's lane."""
        response = await sync_to_async(self.get_response, thread_sensitive=True)(request)
        response._handler_class = self.__class__  # type: ignore[attr-defined]
        if isinstance(response, FileResponse):
            response.block_size = self.chunk_size  # as ASGIHandler: the server does the chunking
        return response
