"""The group commit (engine/groupcommit.py) in this process, turned on as a worker turns it on, with threads in the
part of slot threads, real Postgres and Redis, and steps on a queue nobody serves (their messages are counted in
Redis): the requests of several threads go in one batch and each thread gets its own rows; a request Postgres
refuses fails alone while the rest of its batch is committed; a lone thread is sent at once; a thread does not
wait for a slot thread that sends nothing; inside the caller's transaction the statements join it; a thread
stopped (StepInterrupted) while it leads leaves the others free, and to retry.

Tests that need a batch of every thread set ENGINE_GROUP_COMMIT_DELAY far above its bound, so that the sender
waits for all the busy threads whatever the machine's load (it never waits longer than they take to ask)."""

from __future__ import annotations

import base64
import ctypes
import json
import threading
from collections.abc import Callable, Iterator
from typing import Any
from uuid import UUID, uuid4

import pytest
import redis
from django.db import DataError, InterfaceError, connection, transaction
from django.test import override_settings

from sfpserver.engine import broker as engine_broker
from sfpserver.engine import groupcommit, lifecycle
from sfpserver.engine.dbretry import with_db_retry
from sfpserver.engine.definitions import StepDef, WorkflowDef
from sfpserver.engine.exceptions import StepInterrupted
from sfpserver.engine.groupcommit import Stats
from sfpserver.engine.lifecycle import Claimed, Completion
from sfpserver.engine.models import Attempt, AttemptOutcome, RunStatus, StepRun, StepStatus, WorkflowRun
from sfpserver.engine.trigger import trigger
from tests.conftest import wait_until
from tests.engine.helpers import purged_broker, steps

pytestmark = pytest.mark.usefixtures("db_access")

QUEUE = "group-commit-unserved"
FOREVER = 60.0  # a group commit delay no test may wait out: a thread held that long fails its join below
THREADS = 4
Committer = groupcommit._Committer


@pytest.fixture
def committer() -> Iterator[Committer]:
    """The group commit turned on in this process, as engine/worker.py turns it on; off again afterwards."""
    groupcommit.enable()
    committer = groupcommit._get()
    assert committer is not None
    yield committer
    groupcommit._enabled = False
    groupcommit._committer = None


@pytest.fixture(autouse=True)
def broker() -> Iterator[redis.Redis]:
    """The unserved queue's messages, emptied before and after each test."""
    yield from purged_broker(QUEUE)


def published(client: redis.Redis, step_id: UUID) -> int:
    """How many messages for the step wait on the unserved queue (over its priority lists), once Redis has answered
    every push of this process (they are pipelined: engine/broker.py)."""
    assert engine_broker.confirm_all() == []
    count = 0
    for key in client.scan_iter(match=f"{QUEUE}*"):
        for entry in client.lrange(key, 0, -1):
            step, _attempt = json.loads(base64.b64decode(json.loads(entry)["body"]))[0]
            count += step == str(step_id)
    return count


def one_step_run() -> UUID:
    step = StepDef("only", "t:echo", queue=QUEUE)
    return trigger(WorkflowDef(f"gc.one-{uuid4().hex[:8]}", steps=(step,)))


def claim_only_step(run_id: UUID) -> Claimed:
    claimed = lifecycle.claim(steps(run_id)["only"].id, 0, None, "test")
    assert claimed is not None
    return claimed


def as_slot_threads(*calls: Callable[[], Any], gate: Callable[[int], None] | None = None) -> list[Any]:
    """Run each call in a thread of its own that counts as a busy slot thread (groupcommit.busy), every thread busy
    before any of them asks; `gate(i)`, if given, runs before call i. The call's result, or the error it raised."""
    results: list[Any] = [None] * len(calls)
    all_busy = threading.Barrier(len(calls))

    def slot(index: int, call: Callable[[], Any]) -> None:
        try:
            with groupcommit.busy():
                all_busy.wait()
                if gate is not None:
                    gate(index)
                results[index] = call()
        except BaseException as exc:  # noqa: BLE001 - the test reads each thread's own outcome, StepInterrupted too
            results[index] = exc
        finally:
            connection.close()

    threads = [
        threading.Thread(target=slot, args=(i, call), name=f"slot-{i}", daemon=True) for i, call in enumerate(calls)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    assert not [thread.name for thread in threads if thread.is_alive()], "a thread is still held by the group commit"
    return results


def in_order(committer: Committer) -> Callable[[int], None]:
    """A gate under which thread i asks only once i requests wait: the batch holds them in the threads' order."""
    return lambda index: wait_until(lambda: len(committer._waiting) >= index, timeout=10, interval=0.001)


# --- one batch, each its own rows -----------------------------------------------------------------------------


@override_settings(ENGINE_GROUP_COMMIT_DELAY=FOREVER)
def test_the_claims_of_several_slot_threads_go_in_one_batch_and_each_gets_its_own_step(committer: Committer) -> None:
    run_ids = [one_step_run() for _ in range(THREADS)]
    step_ids = [steps(run_id)["only"].id for run_id in run_ids]
    committer.stats = Stats()

    claims = as_slot_threads(
        *(
            lambda step_id=step_id, i=i: lifecycle.claim(step_id, 0, None, f"slot-{i}")
            for i, step_id in enumerate(step_ids)
        )
    )

    assert committer.stats == Stats(batches=1, requests=THREADS, largest=THREADS)
    assert [(claimed.step_id, claimed.run_id) for claimed in claims] == list(zip(step_ids, run_ids, strict=True))
    assert set(StepRun.objects.filter(id__in=step_ids).values_list("status", flat=True)) == {StepStatus.RUNNING}
    running = Attempt.objects.filter(step_id__in=step_ids).values_list("step_id", "outcome", "worker_name")
    assert sorted(running) == sorted((step_ids[i], AttemptOutcome.RUNNING, f"slot-{i}") for i in range(THREADS))


@override_settings(ENGINE_GROUP_COMMIT_DELAY=FOREVER)
def test_two_branches_completing_in_one_batch_release_their_join_once(
    committer: Committer, broker: redis.Redis
) -> None:
    workflow = WorkflowDef(
        f"gc.join-{uuid4().hex[:8]}",
        steps=(
            StepDef("left", "t:echo", queue=QUEUE),
            StepDef("right", "t:echo", queue=QUEUE),
            StepDef("join", "t:echo", parents=("left", "right"), queue=QUEUE),
        ),
    )
    run_id = trigger(workflow)
    left, right = (lifecycle.claim(steps(run_id)[name].id, 0, None, "test") for name in ("left", "right"))
    assert left is not None and right is not None
    committer.stats = Stats()

    done = as_slot_threads(lambda: lifecycle.complete(left, {"side": "left"}), lambda: lifecycle.complete(right, {}))

    assert done == [Completion(), Completion()]
    assert committer.stats == Stats(batches=1, requests=2, largest=2)
    after = steps(run_id)
    assert {name: step.status for name, step in after.items()} == {
        "left": StepStatus.COMPLETED,
        "right": StepStatus.COMPLETED,
        "join": StepStatus.QUEUED,
    }
    assert published(broker, after["join"].id) == 1  # released once, published once, after the commit
    assert WorkflowRun.objects.get(id=run_id).status == RunStatus.RUNNING


# --- a request that fails ---------------------------------------------------------------------------------------


@override_settings(ENGINE_GROUP_COMMIT_DELAY=FOREVER)
def test_a_completion_postgres_refuses_fails_alone_and_the_rest_of_its_batch_is_committed(committer: Committer) -> None:
    claims = [claim_only_step(one_step_run()) for _ in range(THREADS)]
    outputs: list[Any] = [{"n": 0}, {"text": "a NUL byte \x00 jsonb cannot hold"}, {"n": 2}, {"n": 3}]
    committer.stats = Stats()

    done = as_slot_threads(
        *(
            lambda c=claimed, o=output: lifecycle.complete(c, o)
            for claimed, output in zip(claims, outputs, strict=True)
        ),
        gate=in_order(committer),  # the refused one second: the first one's statements ran before it in the batch
    )

    # One batch of four, which Postgres refused whole; then each request alone, each with its own outcome.
    assert committer.stats == Stats(batches=1 + THREADS, requests=2 * THREADS, largest=THREADS)
    refused = done[1]
    assert isinstance(refused, DataError)
    assert "unsupported Unicode escape sequence" in str(refused)
    assert [done[0], done[2], done[3]] == [Completion(), Completion(), Completion()]
    rows = {row["id"]: row for row in StepRun.objects.filter(id__in=[c.step_id for c in claims]).values()}
    assert [(rows[c.step_id]["status"], rows[c.step_id]["output"]) for c in claims] == [
        (StepStatus.COMPLETED, {"n": 0}),
        (StepStatus.RUNNING, None),
        (StepStatus.COMPLETED, {"n": 2}),
        (StepStatus.COMPLETED, {"n": 3}),
    ]
    runs = WorkflowRun.objects.filter(id__in=[c.run_id for c in claims]).values_list("id", "status")
    assert dict(runs) == {
        claims[0].run_id: RunStatus.COMPLETED,
        claims[1].run_id: RunStatus.RUNNING,
        claims[2].run_id: RunStatus.COMPLETED,
        claims[3].run_id: RunStatus.COMPLETED,
    }
    outcomes = Attempt.objects.filter(step_id__in=[c.step_id for c in claims]).values_list("step_id", "outcome")
    assert dict(outcomes) == {
        claims[0].step_id: AttemptOutcome.COMPLETED,
        claims[1].step_id: AttemptOutcome.RUNNING,
        claims[2].step_id: AttemptOutcome.COMPLETED,
        claims[3].step_id: AttemptOutcome.COMPLETED,
    }


# --- no waiting without a reason --------------------------------------------------------------------------------


@override_settings(ENGINE_GROUP_COMMIT_DELAY=FOREVER)
def test_a_lone_slot_thread_is_sent_at_once(committer: Committer) -> None:
    run_id = one_step_run()
    committer.stats = Stats()

    [claimed] = as_slot_threads(lambda: lifecycle.claim(steps(run_id)["only"].id, 0, None, "alone"))

    assert isinstance(claimed, Claimed) and claimed.run_id == run_id
    assert committer.stats == Stats(batches=1, requests=1, largest=1)


def test_a_slot_thread_is_not_held_for_a_busy_one_that_sends_nothing(committer: Committer) -> None:
    run_id = one_step_run()
    committer.stats = Stats()
    release = threading.Event()

    def busy_in_step_code() -> bool:
        return release.wait(timeout=20)

    def claim_then_release() -> Claimed | None:
        try:
            return lifecycle.claim(steps(run_id)["only"].id, 0, None, "not-held")
        finally:
            release.set()

    waited, claimed = as_slot_threads(busy_in_step_code, claim_then_release)

    assert waited is True  # released by the claim, which did not wait for it beyond ENGINE_GROUP_COMMIT_DELAY
    assert isinstance(claimed, Claimed) and claimed.run_id == run_id
    assert committer.stats == Stats(batches=1, requests=1, largest=1)


# --- inside the caller's transaction ----------------------------------------------------------------------------


def test_inside_a_transaction_the_statements_join_it_on_the_callers_connection(committer: Committer) -> None:
    run_id = one_step_run()
    step_id = steps(run_id)["only"].id
    committer.stats = Stats()

    class Undo(Exception):
        pass

    seen_elsewhere: list[Any] = []
    with pytest.raises(Undo), transaction.atomic():
        claimed = lifecycle.claim(step_id, 0, None, "in-a-transaction")
        assert claimed is not None
        assert StepRun.objects.get(id=step_id).status == StepStatus.RUNNING  # on this connection: claimed
        seen_elsewhere = as_slot_threads(lambda: StepRun.objects.get(id=step_id).status)
        raise Undo

    assert seen_elsewhere == [StepStatus.QUEUED]  # not committed while the caller's transaction was open
    assert StepRun.objects.get(id=step_id).status == StepStatus.QUEUED  # and rolled back with it
    assert committer.stats == Stats()  # nothing went through the committer


# --- a sender stopped while it waits ------------------------------------------------------------------------------


@override_settings(ENGINE_GROUP_COMMIT_DELAY=FOREVER)
def test_a_sender_stopped_by_step_interrupted_while_it_waits_does_not_hold_up_the_process(committer: Committer) -> None:
    """The engine stops a thread by raising StepInterrupted in it (runtime.Invocation.interrupt); one raised in a
    thread waiting, as sender, for the other busy slot threads must leave the group commit free for the others
    (and its own request unsent: the thread that asked is gone)."""
    first, second = one_step_run(), one_step_run()
    first_step, second_step = steps(first)["only"].id, steps(second)["only"].id
    committer.stats = Stats()
    leave = threading.Event()

    def busy_in_step_code() -> bool:
        return leave.wait(timeout=20)

    def claim(step_id: UUID) -> Callable[[], Claimed | None]:
        return lambda: lifecycle.claim(step_id, 0, None, "stopped")

    other, sender = start_slot_thread(busy_in_step_code), start_slot_thread(claim(first_step))
    wait_until(lambda: waiting_requests(committer) == 1, timeout=10, interval=0.01, what="the sender to wait")
    raise_in(sender.thread, StepInterrupted)
    leave.set()  # the busy slot thread leaves: the sender wakes up, and StepInterrupted is raised in it
    assert other.result() is True
    assert isinstance(sender.result(), StepInterrupted)

    [claimed] = as_slot_threads(claim(second_step))  # held forever if the stopped sender had kept the lead

    assert isinstance(claimed, Claimed) and claimed.step_id == second_step
    assert committer.stats == Stats(batches=1, requests=1, largest=1)
    statuses = dict(StepRun.objects.filter(id__in=[first_step, second_step]).values_list("id", "status"))
    assert statuses == {first_step: StepStatus.QUEUED, second_step: StepStatus.RUNNING}


@override_settings(ENGINE_GROUP_COMMIT_DELAY=FOREVER)
def test_a_sender_stopped_while_it_sends_leaves_the_others_to_retry(
    committer: Committer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """StepInterrupted raised in the thread sending a batch: whether the batch committed is not known, as when a
    connection drops at the commit. The sender stops; the others are told so (InterfaceError, which with_db_retry
    retries) and get their outcome on retry."""
    first, second = one_step_run(), one_step_run()
    first_step, second_step = steps(first)["only"].id, steps(second)["only"].id
    committer.stats = Stats()
    stops = [StepInterrupted]

    def stopped_while_sending(batch: Any) -> None:
        if stops:
            raise stops.pop()

    monkeypatch.setattr(groupcommit, "_before_send_hook", stopped_while_sending)
    raw_errors: list[BaseException] = []

    def claim_and_retry(step_id: UUID) -> Claimed | None:
        def attempt() -> Claimed | None:
            try:
                return lifecycle.claim(step_id, 0, None, "retried")
            except InterfaceError as exc:
                raw_errors.append(exc)
                raise

        return with_db_retry(attempt, "claim")

    sent, retried = as_slot_threads(
        lambda: lifecycle.claim(first_step, 0, None, "stopped"),
        lambda: claim_and_retry(second_step),
        gate=in_order(committer),  # the first one asks first: it sends the batch of both
    )

    assert isinstance(sent, StepInterrupted)
    assert [str(error) for error in raw_errors] == [
        "the thread that sent this batch was stopped before its outcome was known"
    ]
    assert isinstance(retried, Claimed) and retried.step_id == second_step
    assert committer.stats == Stats(batches=2, requests=3, largest=2)
    statuses = dict(StepRun.objects.filter(id__in=[first_step, second_step]).values_list("id", "status"))
    assert statuses == {first_step: StepStatus.QUEUED, second_step: StepStatus.RUNNING}


class SlotThread:
    """A thread counted as a busy slot thread (groupcommit.busy) that runs one call; its result or its error."""

    def __init__(self, call: Callable[[], Any]) -> None:
        self._call = call
        self._outcome: Any = None
        self.thread = threading.Thread(target=self._run, name="slot", daemon=True)

    def _run(self) -> None:
        try:
            with groupcommit.busy():
                self._outcome = self._call()
        except BaseException as exc:  # noqa: BLE001 - the test reads the thread's own outcome, StepInterrupted too
            self._outcome = exc
        finally:
            connection.close()

    def result(self) -> Any:
        self.thread.join(timeout=20)
        assert not self.thread.is_alive(), "a thread is still held by the group commit"
        return self._outcome


def start_slot_thread(call: Callable[[], Any]) -> SlotThread:
    slot = SlotThread(call)
    slot.thread.start()
    return slot


def waiting_requests(committer: Committer) -> int:
    """Requests waiting to be sent (read under the committer's lock: a sender waits with its own among them)."""
    with committer._lock:
        return len(committer._waiting)


def raise_in(thread: threading.Thread, error: type[BaseException]) -> None:
    """As the engine stops a step's thread (runtime.Invocation._raise_in_thread)."""
    assert thread.ident is not None
    assert ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread.ident), ctypes.py_object(error)) == 1


def _request(lock_order: str | None) -> groupcommit._Request:
    return groupcommit._Request((), lock_order)


@pytest.mark.parametrize(
    ("arrived", "sent"),
    [
        (["r2", "r1", "r3"], ["r1", "r2", "r3"]),  # completions by their runs' ids
        ([None, "r2", None, "r1"], ["r1", "r2", None, None]),  # then claims, as they came
        ([None, None], [None, None]),
        ([], []),
    ],
)
def test_a_batch_locks_runs_in_one_order_whatever_order_its_requests_came_in(
    arrived: list[str | None], sent: list[str | None]
) -> None:
    requests = [_request(order) for order in arrived]
    ordered = groupcommit._in_lock_order(requests)
    assert [r.lock_order for r in ordered] == sent
    claims = [r for r in requests if r.lock_order is None]
    assert [r for r in ordered if r.lock_order is None] == claims  # the claims keep their arrival order


@override_settings(ENGINE_GROUP_COMMIT_DELAY=FOREVER)
def test_one_workers_claims_in_a_batch_go_as_one_statement_and_a_duplicated_message_claims_nothing(
    committer: Committer, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_ids = [one_step_run() for _ in range(THREADS - 1)]
    step_ids = [steps(run_id)["only"].id for run_id in run_ids]
    asked = [*step_ids, step_ids[0]]  # the last thread took a duplicate of the first step's message
    sent: list[str] = []  # what the group commit sent Postgres, by statement
    fetch_pipelined = groupcommit.sql.fetch_pipelined

    def recording(*statements: Any) -> Any:
        sent.extend(statement.name for statement, _params in statements)
        return fetch_pipelined(*statements)

    monkeypatch.setattr(groupcommit.sql, "fetch_pipelined", recording)

    claims = as_slot_threads(
        *(lambda step_id=step_id: lifecycle.claim(step_id, 0, None, "one-worker") for step_id in asked),
        gate=in_order(committer),
    )

    assert sent == ["claim several"]  # one statement for the whole batch
    assert [None if claimed is None else claimed.step_id for claimed in claims] == [*step_ids, None]
    hashes = dict(StepRun.objects.filter(id__in=step_ids).values_list("id", "lease_hash"))
    assert all(hashes[c.step_id] == lifecycle.lease_hash(c.lease_secret) for c in claims if c is not None)
    assert Attempt.objects.filter(step_id__in=step_ids).count() == len(step_ids)  # one attempt each, not two
