"""A worker process standing in for the scheduler: the leader's duties (timers, sweeper, reaper, crons) never
stop because the one scheduler process did.

The heartbeat thread of every worker process looks, every ENGINE_STANDBY_CHECK seconds, whether some session
holds the leader lock (pg_locks, on its own connection: no lock is taken to look). When none does, it starts a
stand-in thread that tries the lock; the one process that gets it runs the scheduler's ticks until a scheduler
process is back (every scheduler holds SCHEDULER_PRESENT_KEY, shared), then releases the lock, which the
scheduler takes at its next tick. One leader at a time, always: the lead is the advisory lock itself.
"""

from __future__ import annotations

import logging
import threading
import time

from django.conf import settings
from django.db import DatabaseError, close_old_connections, connection

from sfpserver.engine import scheduler, sql, statements

logger = logging.getLogger(__name__)


def lock_held(key: int) -> bool:
    """Whether any session holds the advisory lock `key` (a key below 2**32), without taking it."""
    return bool(sql.rows(statements.LOCK_HELD, {"lock_key": key})[0]["held"])


class Standby:
    """One per worker process: `check()` from the heartbeat thread; `stop()` at shutdown."""

    def __init__(self, who: str) -> None:
        self.who = who
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._next_check = 0.0

    def check(self) -> None:
        if not settings.ENGINE_STANDBY_LEADER or self._stop.is_set():
            return
        if self._thread is not None and self._thread.is_alive():
            return
        if time.monotonic() < self._next_check:
            return
        self._next_check = time.monotonic() + settings.ENGINE_STANDBY_CHECK
        if lock_held(scheduler.LEADER_LOCK_KEY) or lock_held(scheduler.SCHEDULER_PRESENT_KEY):
            return  # someone leads, or a scheduler process is there to take the lead at its next tick
        self._thread = threading.Thread(target=self._stand_in, name="engine-stand-in", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _stand_in(self) -> None:
        lock = scheduler.AdvisoryLock(scheduler.LEADER_LOCK_KEY)
        if not lock.acquire():
            return  # another process took the lead first
        logger.warning("no scheduler leads: worker %s takes over its timers, sweeper, reaper and crons", self.who)
        try:
            self._lead(lock)
        finally:
            lock.release()
            close_old_connections()

    def _lead(self, lock: scheduler.AdvisoryLock) -> None:
        scheduler.register_declared_crons()
        while not self._stop.is_set():
            try:
                if lock_held(scheduler.SCHEDULER_PRESENT_KEY):
                    logger.warning("a scheduler is back: worker %s hands the lead back", self.who)
                    return
            except DatabaseError:
                connection.close()
            if not lock.acquire():
                logger.warning("worker %s lost the leader lock", self.who)
                return
            scheduler.tick(lock.held_for())
            self._stop.wait(settings.ENGINE_TICK)
