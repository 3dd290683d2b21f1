"""`hatchet.worker(...)`: a worker process serving exactly the given workflows, with Hatchet's lifecycle:
/health, at most `slots` tasks at once, and on SIGTERM: PAUSED, no new work, running tasks finish while it
keeps heartbeating, then the lifespan teardown runs and the process exits."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import sys
import threading
from collections.abc import AsyncGenerator, Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from sfpserver.hatchet.config import ClientConfig
from sfpserver.hatchet.log_capture import capture
from sfpserver.hatchet.task import Task
from sfpserver.hatchet.types import WorkerLabel
from sfpserver.hatchet.unsupported import unsupported
from sfpserver.hatchet.workflow import BaseWorkflow

logger = logging.getLogger(__name__)

MAX_THREADS = 100


def worker_labels(labels: dict[str, str | int] | list[WorkerLabel] | None) -> dict[str, str | int]:
    """The worker's labels as a mapping, from Hatchet's dict or from its list of `WorkerLabel`s."""
    if isinstance(labels, list):
        return {label.key: label.value for label in labels}
    return dict(labels or {})


class Worker:
    def __init__(
        self,
        name: str,
        *,
        slots: int | None = None,
        durable_slots: int | None = None,
        labels: dict[str, str | int] | list[WorkerLabel] | None = None,
        workflows: list[BaseWorkflow[Any]] | None = None,
        lifespan: Callable[[], AsyncGenerator[Any, None]] | None = None,
        config: ClientConfig | None = None,
    ) -> None:
        if durable_slots is not None:
            unsupported("durable_slots", "hatchet.worker")
        self.name = name
        self.slots = slots or 100
        self.labels = worker_labels(labels)
        self.workflows: list[BaseWorkflow[Any]] = []
        self.lifespan = lifespan
        self.config = config
        self._lifespan_value: Any = None
        self._ready = threading.Event()
        self._stopping = threading.Event()
        for workflow in workflows or []:
            self.register_workflow(workflow)

    def register_workflow(self, workflow: BaseWorkflow[Any]) -> None:
        if isinstance(workflow, Task):
            raise TypeError("workflows must be Workflow or Standalone objects, not a Task")
        self.workflows.append(workflow)

    def register_workflows(self, workflows: list[BaseWorkflow[Any]]) -> None:
        for workflow in workflows:
            self.register_workflow(workflow)

    # Starting ----------------------------------------------------------------------------------------------
    def start(self) -> None:
        from sfpserver.hatchet.setup import ensure_django

        ensure_django()
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            from sfpserver.hatchet.exceptions import LoopAlreadyRunningError

            raise LoopAlreadyRunningError("worker.start() cannot run inside a running event loop")
        if not self.workflows:
            raise ValueError("no workflows registered on this worker: nothing to run")
        self._register()
        if self.config is not None and not self.config.disable_log_capture:
            capture(self.config.logger)
        self._start_healthcheck()
        lifespan = self._enter_lifespan()
        try:
            self._run_celery()
        finally:
            self._stopping.set()
            self._exit_lifespan(lifespan)
        sys.exit(0)

    def _register(self) -> None:
        from sfpserver.engine import services
        from sfpserver.hatchet.eventfilters import sync_declared_filters

        definitions = [(wf, wf.to_definition()) for wf in self.workflows]  # ValueError on a bad workflow
        actions = [t.action for wf, _ in definitions for t in wf.all_tasks()]
        dupes = sorted({a for a in actions if actions.count(a) > 1})
        if dupes:
            raise ValueError(f"Duplicate actions registered on this worker: {', '.join(dupes)}")
        for workflow, definition in definitions:
            services.register_workflow(definition, workflow.handlers(lambda: self._lifespan_value))
        shapes = [d for _, d in definitions]
        services.wait_for_database(lambda: services.publish_definitions(shapes), "publish the worker's workflows")
        services.wait_for_database(lambda: services.register_declared_crons(shapes), "register the worker's crons")
        services.wait_for_database(lambda: sync_declared_filters(shapes), "store the workflows' default filters")

    def _run_celery(self) -> None:
        from config.celery import app
        from sfpserver.engine import services

        queues = sorted({step.queue for wf in self.workflows for step in wf.to_definition().steps})
        node = f"{self.name}-{os.getpid()}@{socket.gethostname()}"
        queues = services.configure_worker(
            pool="hatchet", queues=queues, slots=self.slots, name=self.name, labels=self.labels, routable=True
        )
        from celery import signals

        signals.worker_ready.connect(lambda **_: self._ready.set(), weak=False)
        signals.worker_shutting_down.connect(lambda **_: self._stopping.set(), weak=False)
        app.worker_main(
            [
                "worker",
                "--pool",
                "threads",
                "--concurrency",
                str(min(self.slots, MAX_THREADS)),
                "--queues",
                ",".join(queues),
                "--hostname",
                node,
                "--prefetch-multiplier",
                "1",
                "--loglevel",
                "WARNING",
                "--without-mingle",
                "--without-gossip",
            ]
        )

    # Lifespan ----------------------------------------------------------------------------------------------
    def _enter_lifespan(self) -> tuple[asyncio.AbstractEventLoop, AsyncGenerator[Any, None]] | None:
        if self.lifespan is None:
            return None
        loop = asyncio.new_event_loop()
        generator = self.lifespan()
        self._lifespan_value = loop.run_until_complete(generator.__anext__())
        return loop, generator

    def _exit_lifespan(self, state: tuple[asyncio.AbstractEventLoop, AsyncGenerator[Any, None]] | None) -> None:
        if state is None:
            return
        loop, generator = state
        try:
            loop.run_until_complete(generator.__anext__())
        except StopAsyncIteration:
            pass
        finally:
            loop.close()

    # Health ------------------------------------------------------------------------------------------------
    def _start_healthcheck(self) -> None:
        from config.env import env_bool, env_int, env_str

        if not env_bool("HATCHET_CLIENT_WORKER_HEALTHCHECK_ENABLED", False):
            return
        port = env_int("HATCHET_CLIENT_WORKER_HEALTHCHECK_PORT", 8001)
        address = env_str("HATCHET_CLIENT_WORKER_HEALTHCHECK_BIND_ADDRESS", "0.0.0.0")
        worker = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.split("?")[0] != "/health":
                    self.send_error(404)
                    return
                healthy = worker._ready.is_set() and not worker._stopping.is_set()
                body = json.dumps(
                    {"status": "HEALTHY" if healthy else "UNHEALTHY", "name": worker.name, "slots": worker.slots}
                ).encode()
                self.send_response(200 if healthy else 503)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return

        server = ThreadingHTTPServer((address, port), Handler)
        threading.Thread(target=server.serve_forever, name="hatchet-health", daemon=True).start()
