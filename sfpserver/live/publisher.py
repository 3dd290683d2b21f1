"""Publishing the engine's changes to the channel layer from any process, off the engine's path.

The engine's signals fire in whichever thread committed a change (a worker's step thread, a request
thread, the scheduler loop). The receivers only put a job on this process's queue and return: one daemon
thread reads the run's state when a job asks for it and sends the messages in order over its own event
loop and persistent channel-layer connection. So the engine never waits on Redis or on these reads, and
a burst of changes to one run is read once (a state job still waiting absorbs later ones for its run).

If the layer or the database is unavailable, messages are dropped with a warning at most every 30 s:
the live feed is best effort, Postgres keeps the truth and a client that reconnects gets a snapshot.
Pending jobs are flushed for up to two seconds when the process exits.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import os
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import connection

from sfpserver.live import audience, groups, state

logger = logging.getLogger(__name__)

SEND_TIMEOUT = 2.0  # seconds for one group_send before it counts as failed
EXIT_FLUSH_TIMEOUT = 2.0
BATCH = 500  # jobs handled per audience check
BATCH_WINDOW = 0.05  # seconds a batch collects jobs once it has one (the feed's added delay, at most)
WARN_EVERY = 30.0  # seconds between two warnings about dropped messages


@dataclass(frozen=True)
class Job:
    run_id: str
    event: dict[str, Any] | None = None  # an event to forward as it is
    change: dict[str, Any] = field(default_factory=dict)  # else: read and send the run's state


class Publisher:
    def __init__(self, backlog: int) -> None:
        self.pid = os.getpid()
        self._jobs: queue.Queue[Job] = queue.Queue(maxsize=backlog)
        self._state_waiting: set[str] = set()  # runs with a state job in the queue
        self._lock = threading.Lock()
        self._dropped = 0
        self._warned_at = 0.0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="live-publisher", daemon=True)
        self._thread.start()

    def submit(self, job: Job) -> None:
        """Queue a job and return at once; a full backlog drops it."""
        with self._lock:
            if job.event is None:
                if job.run_id in self._state_waiting:
                    return  # the waiting job will read the newer state
                self._state_waiting.add(job.run_id)
        try:
            self._jobs.put_nowait(job)
        except queue.Full:
            self._forget(job)
            self._dropped_one("backlog full")

    def flush(self, timeout: float) -> bool:
        """Wait until every job queued so far is done (sent or given up); False on timeout."""
        deadline = time.monotonic() + timeout
        while self._jobs.unfinished_tasks:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.01)
        return True

    def _run(self) -> None:
        while True:
            batch = self._next_batch()
            try:
                watched = audience.present()  # once per batch: every job in it was queued before this check
            except Exception as exc:  # noqa: BLE001 - the live feed must never break the engine
                watched = False
                self._dropped_one(f"{type(exc).__name__}: {exc}")
            for job in batch:
                try:
                    self._handle(job, watched)
                except Exception as exc:  # noqa: BLE001 - the live feed must never break the engine
                    self._dropped_one(f"{type(exc).__name__}: {exc}")
                    _reset_connection()
                finally:
                    self._jobs.task_done()

    def _next_batch(self) -> list[Job]:
        """The next job (waiting for one) and every job queued behind it within BATCH_WINDOW, up to BATCH: under
        load the thread wakes once per window, not once per change."""
        batch = [self._jobs.get()]
        time.sleep(BATCH_WINDOW)
        while len(batch) < BATCH:
            try:
                batch.append(self._jobs.get_nowait())
            except queue.Empty:
                break
        return batch

    def _handle(self, job: Job, watched: bool) -> None:
        if not watched:  # nobody watching: no state reads, no messages
            self._forget(job)
            return
        if job.event is not None:
            event = state.plain(job.event)
            self._send(job.run_id, {"type": "event", "event": event}, to_all=event.get("kind") in FOR_ALL)
            return
        self._forget(job)  # from here on, a newer change queues a new job
        run = state.run_state(job.run_id, with_attempts=True)
        if run is not None:
            self._send(job.run_id, {**job.change, "run": run}, to_all=True)

    def _send(self, run_id: str, payload: dict[str, Any], *, to_all: bool) -> None:
        layer = _layer()
        message = groups.envelope(run_id, payload)
        names = [groups.run_group(run_id), *([groups.ALL_RUNS] if to_all else [])]
        for name in names:
            self._loop.run_until_complete(asyncio.wait_for(layer.group_send(name, message), SEND_TIMEOUT))

    def _forget(self, job: Job) -> None:
        if job.event is None:
            with self._lock:
                self._state_waiting.discard(job.run_id)

    def _dropped_one(self, reason: str) -> None:
        with self._lock:
            self._dropped += 1
            now = time.monotonic()
            if now - self._warned_at < WARN_EVERY:
                return
            count, self._dropped, self._warned_at = self._dropped, 0, now
        logger.warning("live feed: %d message(s) not published (%s)", count, reason)


FOR_ALL = ("PROGRESS", "STATUS")  # event kinds the all-runs feed carries; log lines stay on the run's feed


def _layer() -> Any:
    from channels.layers import get_channel_layer

    return get_channel_layer()


def _reset_connection() -> None:
    try:
        connection.close()
    except Exception:  # noqa: BLE001 - a broken connection is reopened on the next read
        logger.debug("live feed: closing the database connection failed", exc_info=True)


_publisher: Publisher | None = None
_publisher_lock = threading.Lock()


def get_publisher() -> Publisher:
    """This process's publisher, started on first use (and again in a forked child)."""
    global _publisher
    with _publisher_lock:
        if _publisher is None or _publisher.pid != os.getpid():
            _publisher = Publisher(settings.LIVE_PUBLISH_BACKLOG)
            atexit.register(_publisher.flush, EXIT_FLUSH_TIMEOUT)
        return _publisher


def submit(job: Job) -> None:
    try:
        get_publisher().submit(job)
    except Exception:  # the live feed must never break the engine
        logger.exception("live feed: could not queue a message")
