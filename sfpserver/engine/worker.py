"""The engine's side of a Celery worker process: its Worker row, its heartbeat, and the watch over the
attempts it runs (cancel, timeout, reassignment) — one database round trip per heartbeat interval."""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from types import FrameType
from typing import Any
from uuid import UUID, uuid4

from celery import signals as celery_signals
from celery.exceptions import Reject
from django.conf import settings
from django.db import DatabaseError, InterfaceError, close_old_connections, connection, transaction
from django.db.models.functions import Now
from django.utils import timezone

from config.undumpable import forbid_dumps
from sfpserver.engine import affinity, groupcommit, lifecycle, registry, runtime
from sfpserver.engine.dbretry import wait_for_database
from sfpserver.engine.models import StepRun, StepStatus, Worker, WorkerStatus
from sfpserver.engine.standby import Standby

logger = logging.getLogger(__name__)


@dataclass
class WorkerIdentity:
    pool: str
    queues: list[str]
    slots: int
    name: str = ""
    labels: dict[str, Any] = field(default_factory=dict)
    id: UUID = field(default_factory=uuid4)


_identity: WorkerIdentity | None = None
_standby: Standby | None = None  # stands in for the scheduler when no process leads (engine/standby.py)
_stop = threading.Event()
_draining = threading.Event()  # shutting down: finish what runs, start nothing new


def identity() -> WorkerIdentity | None:
    return _identity


def configure(
    pool: str,
    queues: list[str],
    slots: int,
    name: str,
    labels: dict[str, Any] | None = None,
    routable: bool = False,
) -> list[str]:
    """Called once by the worker entry point before Celery starts; hooks the engine into the worker. Returns the
    queues Celery is to consume: `queues`, and when `routable`, the worker's own queue, where steps with affinity
    chosen for it arrive (engine/affinity.py)."""
    global _identity, _standby
    forbid_dumps()  # no program a step starts can read this process (its environment, its memory)
    if settings.ENGINE_GROUP_COMMIT:
        groupcommit.enable()  # the slot threads' claims and completions share round trips and commits
    _identity = WorkerIdentity(pool=pool, queues=list(queues), slots=slots, name=name, labels=dict(labels or {}))
    if routable:
        _identity.queues.append(affinity.worker_queue(_identity.id))
    _standby = Standby(name)
    celery_signals.worker_ready.connect(_on_ready, weak=False)
    celery_signals.worker_shutting_down.connect(_on_shutting_down, weak=False)
    celery_signals.worker_shutdown.connect(_on_shutdown, weak=False)
    return list(_identity.queues)


def current_labels() -> dict[str, Any]:
    """This worker process's labels (empty outside a worker)."""
    return dict(_identity.labels) if _identity is not None else {}


def upsert_labels(worker_id: UUID | str, labels: dict[str, Any]) -> dict[str, Any]:
    """Add or change labels of a worker (its row, and this process's identity when it is this worker); the next
    routed step is placed with them. Returns the worker's labels after the change."""
    if _identity is not None and str(_identity.id) == str(worker_id):
        _identity.labels.update(labels)
    with transaction.atomic():
        worker = Worker.objects.select_for_update().filter(id=worker_id).first()
        if worker is None:
            return dict(labels)
        worker.labels = {**(worker.labels or {}), **labels}
        worker.save(update_fields=["labels"])
        return dict(worker.labels)


def run_step(step_id: str, attempt: int) -> None:
    if _draining.is_set():
        # A message that reached this worker after its shutdown began goes back to the queue untouched.
        raise Reject("worker is shutting down", requeue=True)
    runtime.execute(step_id, attempt, claimant(), _may_hand_off)


def run_batch(batch_id: str) -> None:
    if _draining.is_set():
        raise Reject("worker is shutting down", requeue=True)
    from sfpserver.engine import batch_runtime

    batch_runtime.execute(batch_id, claimant())


def claimant() -> lifecycle.Claimant:
    """This worker as it claims steps; with its queues for hand-offs (settings.ENGINE_HAND_OFF)."""
    if _identity is None:  # step code run outside a worker process (tests, scripts)
        return lifecycle.Claimant(None, socket.gethostname())
    queues = tuple(_identity.queues) if settings.ENGINE_HAND_OFF else ()
    return lifecycle.Claimant(_identity.id, _identity.name, queues)


def _may_hand_off() -> bool:
    return not _draining.is_set()


def _on_ready(**_: Any) -> None:
    assert _identity is not None
    _drop_reentrant_signals()
    registry.load_workflow_modules()
    wait_for_database(registry.publish_definitions, "publish workflow definitions")
    wait_for_database(_register, "register the worker")
    thread = threading.Thread(target=_heartbeat_loop, name="engine-heartbeat", daemon=True)
    thread.start()
    logger.info("worker %s ready on %s", _identity.name, ",".join(_identity.queues))


def _drop_reentrant_signals() -> None:
    """Celery's shutdown handlers take its signal dispatcher's lock; a second SIGTERM arriving while the first
    one is handled interrupts that same thread and waits on the lock forever, so the worker hangs until it is
    killed. Two arrive whenever a process group or cgroup is signalled and a supervisor forwards the signal
    too (workers/__main__.py supervise, systemd's control-group kill). A signal that arrives while a handler
    runs is dropped: the shutdown it asks for is already under way. Called once Celery's handlers are in."""
    if threading.current_thread() is not threading.main_thread():
        return
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT):
        handler = signal.getsignal(signum)
        if callable(handler):
            signal.signal(signum, _non_reentrant(handler))


def _non_reentrant(handler: Callable[[int, FrameType | None], Any]) -> Callable[[int, FrameType | None], None]:
    running = False

    def guarded(signum: int, frame: FrameType | None) -> None:
        nonlocal running
        if running:
            return
        running = True
        try:
            handler(signum, frame)
        finally:
            running = False

    return guarded


def _register() -> None:
    assert _identity is not None
    Worker.objects.update_or_create(
        id=_identity.id,
        defaults={
            "name": _identity.name,
            "pool": _identity.pool,
            "queues": _identity.queues,
            "hostname": socket.gethostname(),
            "pid": os.getpid(),
            "slots": _identity.slots,
            "labels": _identity.labels,
            "status": WorkerStatus.ACTIVE,
            "last_heartbeat": timezone.now(),
        },
    )


_pausing: threading.Thread | None = None


def _on_shutting_down(**_: Any) -> None:
    """Celery calls this from its SIGTERM handler, which may have interrupted this very thread inside a
    database call: using the thread's connection here could deadlock on the connection's lock (it did, when a
    second SIGTERM arrived during the first one's update). So the first signal hands the update to a thread."""
    global _pausing
    if _draining.is_set():
        return
    _draining.set()  # takes no new work; running steps finish while it keeps beating
    for inv in runtime.running.snapshot():
        inv.evict_requested.set()  # a durable task waiting in its slot leaves it at once (engine/durable.py)
    _pausing = threading.Thread(target=_set_status, args=(WorkerStatus.PAUSED,), name="engine-pause", daemon=True)
    _pausing.start()


def _on_shutdown(**_: Any) -> None:
    _stop.set()
    if _standby is not None:
        _standby.stop()
    if _pausing is not None:
        _pausing.join(timeout=10)  # PAUSED must not land after STOPPED
    _set_status(WorkerStatus.STOPPED)


def _set_status(status: str) -> None:
    if _identity is None:
        return
    close_old_connections()  # this thread's connection may have died with a database restart long ago
    try:
        Worker.objects.filter(id=_identity.id).update(
            status=status, stopped_at=timezone.now() if status == WorkerStatus.STOPPED else None
        )
    except DatabaseError:
        logger.warning("could not mark worker %s %s", _identity.name, status)


def _heartbeat_loop() -> None:
    while not _stop.wait(settings.ENGINE_HEARTBEAT_INTERVAL):
        try:
            beat()
            if _standby is not None and not _draining.is_set():
                _standby.check()
        except (DatabaseError, InterfaceError):
            logger.warning("heartbeat failed; retrying next tick")
            connection.close()


def beat() -> None:
    """Stamp the heartbeat, stop local attempts the engine no longer wants running here, and re-queue the
    orphans: steps the database says run here that no thread runs (a claim whose reply was lost)."""
    assert _identity is not None
    local = runtime.running.snapshot()
    local_ids = [inv.step_id for inv in local]
    owned = runtime.running.owned_ids()  # and the handed children about to run here
    with transaction.atomic():
        found = Worker.objects.filter(id=_identity.id).exclude(status=WorkerStatus.STOPPED)
        if not found.update(last_heartbeat=timezone.now()):
            _register()  # declared dead or removed: come back as a live worker
        elif found.filter(status=WorkerStatus.DEAD).update(status=WorkerStatus.ACTIVE):
            logger.warning("worker %s was declared dead and is back", _identity.name)
        rows = {
            row[0]: row[1:]
            for row in StepRun.objects.filter(id__in=local_ids).values_list(
                "id", "attempt", "status", "worker_id", "timeout_at"
            )
        }
        claimed_before = Now() - timedelta(seconds=settings.ENGINE_ORPHAN_GRACE)  # the database's clock
        orphans = list(
            StepRun.objects.filter(worker_id=_identity.id, status=StepStatus.RUNNING, started_at__lt=claimed_before)
            .exclude(id__in=owned)
            .values_list("id", "attempt")
        )
    now = timezone.now()
    for inv in local:
        attempt, status, worker_id, timeout_at = rows.get(inv.step_id, (None, None, None, None))
        if attempt != inv.attempt or status != StepStatus.RUNNING or worker_id != _identity.id:
            inv.interrupt(f"the step is now {status or 'gone'}")
        elif timeout_at is not None and timeout_at <= now:
            lifecycle.time_out(inv.step_id, inv.attempt)
            inv.interrupt("timed out")
    for step_id, attempt in orphans:
        lifecycle.reassign(step_id, attempt, f"worker {_identity.name} claimed the step but does not run it")
