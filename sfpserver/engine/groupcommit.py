"""Group commit: the claims and completions of a worker process's threads go to Postgres together.

A slot thread hands the statements of its claim, or of its completion (with what follows from it: the settling of
the run, the claim of a handed-off child), to `fetch_pipelined`. If no batch is on its way, it sends at once, on its
own connection, its statements and those of every thread waiting: one pipeline, so one round trip, one transaction
and one commit for all of them. A thread that asks while a batch is on its way waits for it to land; then the first
of those waiting sends them all. So a lone thread is never delayed, and batches grow with the load by themselves.
A sender also waits, at most ENGINE_GROUP_COMMIT_DELAY seconds (≤ 2 ms: a bound, not a tick), for the other slot
threads busy in the process, as long as some of them have not asked yet.

Each thread then goes on as if it had sent its own statements (it publishes what its completion released, after
that commit), and only then returns, so Celery acknowledges a step's message after the commit that recorded its
outcome, never before. Each request keeps its guarantees: its statements run in its order, fenced on (step,
attempt) as alone, every completion taking its run's lock first. If a batch fails, nothing of it was committed,
and each request is sent again alone, so that each thread gets its own outcome (a step's bad output fails that
step only) and retries what it must (`with_db_retry`). A worker killed with requests waiting committed none of
them: their steps are still RUNNING for a worker that is gone and run again once it is declared dead, recorded
once. A thread stopped while it waits or sends (StepInterrupted is raised in a slot's thread to stop it) gives up
the lead and withdraws its request if it is still waiting; the others of a batch it was sending are told that its
outcome is not known (InterfaceError, as when a connection drops at the commit) and retry.

Only worker processes turn it on (`enable`, from engine/worker.py); anywhere else, and inside a transaction the
caller holds, the statements go at once on the caller's own connection.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.conf import settings
from django.db import DatabaseError, InterfaceError, connection

from sfpserver.engine import sql
from sfpserver.engine.sql import Params, Rows
from sfpserver.engine.statements import CLAIM, CLAIM_MANY, Statement

logger = logging.getLogger(__name__)

Pipeline = tuple[tuple[Statement, Params], ...]

# Test seams, None in production and never set by it: the group commit's fault tests set them from a module that
# only the worker process under test imports (tests/engine/groupcommit_seam.py, through ENGINE_WORKFLOW_MODULES),
# to hold that worker at a known point of a batch and SIGKILL it there. Each is called by the thread that sends
# the batch, with the statements of every request in it: `_before_send_hook` before anything of the batch is
# sent, `_after_commit_hook` once its commit succeeded and before any thread that asked is answered (so before
# any of their messages is acknowledged).
BatchHook = Callable[[Sequence[Pipeline]], None]
_before_send_hook: BatchHook | None = None
_after_commit_hook: BatchHook | None = None


@dataclass(eq=False)  # a request is itself, whatever its statements: found in the waiting list by identity
class _Request:
    statements: Pipeline
    lock_order: str | None = None  # the run a completion locks first; None: a claim (it locks its step first)
    thread: int = field(default_factory=threading.get_ident)
    done: bool = False
    rows: list[Rows] | None = None
    error: BaseException | None = None
    wake: threading.Event = field(default_factory=threading.Event)  # answered, or handed the lead


@dataclass
class Stats:
    """What the group commit did, for the bench and the tests: batches sent and requests in them."""

    batches: int = 0
    requests: int = 0
    largest: int = 0


class _Committer:
    """Leader and followers: a thread that asks while no batch is on its way sends at once, on its own connection,
    its request and every one waiting; a thread that asks while one is on its way waits for it to land, then the
    first of those waiting sends them all.

    Each thread is woken only when it has something to do: a follower when its request is answered or the lead is
    handed to it, the leader (alone on `_more`) when another request or a slot's end may complete its batch. (Waking
    every waiting thread at each change cost more context switches than the batch saved.)"""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.stats = Stats()
        self._lock = threading.Lock()
        self._more = threading.Condition(self._lock)  # only the leader, gathering its batch, waits here
        self._waiting: list[_Request] = []
        self._sender: int | None = None  # the thread that holds the lead, from its wait until its batch landed
        self._busy = 0  # slot threads between `busy()`'s enter and exit

    def enter(self) -> None:
        with self._lock:
            self._busy += 1

    def exit(self) -> None:
        with self._lock:
            self._busy -= 1
            self._more.notify()  # one thread fewer for the leader to wait for

    def submit(self, statements: Pipeline, lock_order: str | None) -> list[Rows]:
        request = _Request(statements, lock_order)
        try:
            batch = self._lead_or_follow(request)
            if batch is not None:
                self._send(batch)
        finally:
            self._leave(request)
        if request.error is not None:
            raise request.error
        assert request.rows is not None
        return request.rows

    def _leave(self, request: _Request) -> None:
        """Whatever stopped this thread (StepInterrupted is raised in a slot's thread to stop it: an error may come
        at any point), it leaves no request of its own to be sent without it, nor the lead held: the lead goes to
        the first thread waiting, if any."""
        with self._lock:
            if not request.done:
                self._waiting = [waiting for waiting in self._waiting if waiting is not request]
            if self._sender == request.thread:
                self._sender = None
                if self._waiting:
                    self._sender = self._waiting[0].thread
                    self._waiting[0].wake.set()

    def _lead_or_follow(self, request: _Request) -> list[_Request] | None:
        """The batch this thread is to send; None once another thread sent its request."""
        with self._lock:
            self._waiting.append(request)
            if self._sender is None:
                self._sender = request.thread
            else:
                self._more.notify()  # a leader gathering its batch counts this request
        while self._sender != request.thread:
            request.wake.wait()
            with self._lock:
                if request.done:
                    return None
                request.wake.clear()  # a spurious look: not answered, not the leader yet
        with self._lock:
            deadline = time.monotonic() + settings.ENGINE_GROUP_COMMIT_DELAY
            while len(self._waiting) < self._busy and (left := deadline - time.monotonic()) > 0:
                self._more.wait(left)
            batch, self._waiting = self._waiting, []
        return _in_lock_order(batch)

    def _send(self, batch: list[_Request]) -> None:
        """Send the batch and answer every request in it, with its rows or its error, whatever happens."""
        try:
            self._send_batch(batch)
        except BaseException:
            # This thread was stopped while it sent (StepInterrupted, raised in a slot's thread to stop it), or
            # failed outside the database: whether the batch committed is not known, as when a connection drops
            # at the commit. The threads that asked are told so, and retry as then (with_db_retry: the fence
            # turns a retry of what did commit into a stale one).
            _reset_connection()
            lost = InterfaceError("the thread that sent this batch was stopped before its outcome was known")
            for request in batch:
                if not request.done:
                    self._answer(request, error=lost)
            raise

    def _send_batch(self, batch: list[_Request]) -> None:
        self.stats.batches += 1
        self.stats.requests += len(batch)
        self.stats.largest = max(self.stats.largest, len(batch))
        if _before_send_hook is not None:
            _before_send_hook([request.statements for request in batch])
        claims = _Claims.of(batch)
        rest = [request for request in batch if request not in claims.requests]
        try:
            statements = [*(item for request in rest for item in request.statements), *claims.statements()]
            rows = sql.fetch_pipelined(*statements)
        except Exception as exc:  # noqa: BLE001 - every error goes back to the threads that asked
            _reset_connection()
            if len(batch) == 1:
                self._answer(batch[0], error=exc)
                return
            for request in batch:  # nothing was committed: each alone, to get each its own outcome
                self._send([request])
            return
        if _after_commit_hook is not None:
            _after_commit_hook([request.statements for request in batch])
        start = 0
        for request in rest:
            end = start + len(request.statements)
            self._answer(request, rows=rows[start:end])
            start = end
        for request, claimed in claims.answers(rows[-1] if claims.requests else []):
            self._answer(request, rows=[claimed])

    def _answer(self, request: _Request, rows: list[Rows] | None = None, error: BaseException | None = None) -> None:
        with self._lock:
            request.rows, request.error, request.done = rows, error, True
        request.wake.set()


@dataclass
class _Claims:
    """The plain claims of a batch (two or more, by the same worker), sent as one statement (CLAIM_MANY): a worker
    claims the messages its slots took in one go. A second claim of a (step, attempt) in the batch (a duplicated
    message) is answered as stale, as its own claim would have been once the first committed."""

    requests: list[_Request]

    @classmethod
    def of(cls, batch: list[_Request]) -> _Claims:
        claims = [r for r in batch if len(r.statements) == 1 and r.statements[0][0] is CLAIM]
        workers = {(r.statements[0][1]["worker"], r.statements[0][1]["worker_name"]) for r in claims}
        return cls(claims if len(claims) > 1 and len(workers) == 1 else [])

    def statements(self) -> list[tuple[Statement, Params]]:
        if not self.requests:
            return []
        first: dict[tuple[str, int], Params] = {}
        for request in self.requests:
            first.setdefault(_claim_key(request), request.statements[0][1])
        wanted = list(first.values())
        params = {
            "steps": [p["step"] for p in wanted],
            "attempts": [p["attempt"] for p in wanted],
            "lease_hashes": [p["lease_hash"] for p in wanted],
            "worker": wanted[0]["worker"],
            "worker_name": wanted[0]["worker_name"],
        }
        return [(CLAIM_MANY, params)]

    def answers(self, rows: Rows) -> list[tuple[_Request, Rows]]:
        """Each claim's rows: its step's row for the first claim of each (step, attempt), none for the others."""
        by_step = {str(row["id"]): row for row in rows}
        answered, seen = [], set()
        for request in self.requests:
            key = _claim_key(request)
            row = by_step.get(key[0]) if key not in seen else None
            seen.add(key)
            answered.append((request, [row] if row is not None else []))
        return answered


def _claim_key(request: _Request) -> tuple[str, int]:
    params = request.statements[0][1]
    return str(params["step"]), int(params["attempt"])


def _in_lock_order(batch: list[_Request]) -> list[_Request]:
    """Completions by their run's id, then claims as they came: two batches that complete steps of the same runs
    lock those runs in the same order, so they wait for each other instead of deadlocking. (Claims of the roots
    of one run in two batches may still cross; Postgres then breaks the tie, and each request is sent again.)"""
    return sorted(batch, key=lambda request: (request.lock_order is None, request.lock_order or ""))


def _reset_connection() -> None:
    try:
        connection.close()  # the sender's own: reopened by the next statement
    except DatabaseError:
        logger.debug("group commit: closing a broken connection failed", exc_info=True)


_committer: _Committer | None = None
_enabled = False
_starting = threading.Lock()


def enable() -> None:
    """Group the claims and completions of this process's threads from now on (a worker process)."""
    global _enabled
    _enabled = True


def _get() -> _Committer | None:
    global _committer
    if not _enabled:
        return None
    with _starting:
        if _committer is None or _committer.pid != os.getpid():
            _committer = _Committer()
        return _committer


def stats() -> Stats:
    return _committer.stats if _committer is not None else Stats()


@contextmanager
def busy() -> Iterator[None]:
    """Around a slot thread's unit of work: the committer knows how many threads may still send it something."""
    committer = _get()
    if committer is None:
        yield
        return
    committer.enter()
    try:
        yield
    finally:
        committer.exit()


def fetch_pipelined(*statements: tuple[Statement, Params], lock_order: str | None = None) -> list[Rows]:
    """`sql.fetch_pipelined`, grouped with the other threads' requests in a worker process (outside a
    transaction of the caller's: inside one, the statements must join it, and go at once). `lock_order`: the
    run a completion locks first (see `_in_lock_order`)."""
    committer = _get()
    if committer is None or connection.in_atomic_block:
        return sql.fetch_pipelined(*statements)
    return committer.submit(statements, lock_order)


def fetch(statement: Statement, params: Params, lock_order: str | None = None) -> Rows:
    """`sql.fetch`, grouped as `fetch_pipelined`."""
    return fetch_pipelined((statement, params), lock_order=lock_order)[0]
