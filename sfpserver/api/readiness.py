"""Is this deployment ready to take work? Postgres answers, Redis answers, every migration is applied, and
each required pool has a live worker. Problems are named; connection strings and secrets never are."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import timedelta

import redis
from django.conf import settings
from django.db import DatabaseError, connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from sfpserver.engine import services as engine

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Check:
    ok: bool
    detail: str


def checks() -> dict[str, Check]:
    return {
        "postgres": check_postgres(),
        "redis": check_redis(),
        "migrations": check_migrations(),
        "workers": check_workers(),
    }


def _failure(exc: Exception) -> str:
    first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {first_line}" if first_line else type(exc).__name__


def check_postgres() -> Check:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError as exc:
        return Check(False, f"cannot query the database ({_failure(exc)})")
    return Check(True, "reachable")


def check_redis() -> Check:
    client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=1, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.RedisError as exc:
        return Check(False, f"cannot reach the broker ({type(exc).__name__})")
    finally:
        client.close()
    return Check(True, "reachable")


def check_migrations() -> Check:
    try:
        executor = MigrationExecutor(connection)
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except DatabaseError as exc:
        return Check(False, f"cannot read the migration state ({_failure(exc)})")
    unapplied = [f"{migration.app_label}.{migration.name}" for migration, _backwards in plan]
    if unapplied:
        return Check(False, f"{len(unapplied)} unapplied: {', '.join(unapplied)}")
    return Check(True, "all applied")


def check_workers() -> Check:
    silent_since = timezone.now() - timedelta(seconds=settings.ENGINE_WORKER_DEAD_AFTER)
    try:
        live = engine.live_workers_by_pool(silent_since)
    except DatabaseError as exc:
        return Check(False, f"cannot read the workers ({_failure(exc)})")
    counts = ", ".join(f"{pool}: {live.get(pool, 0)} live" for pool in settings.API_READY_POOLS)
    missing = [pool for pool in settings.API_READY_POOLS if not live.get(pool)]
    if missing:
        return Check(False, f"no live worker in pool(s) {', '.join(missing)} ({counts})")
    return Check(True, counts or "no pool is required (API_READY_POOLS is empty)")


def announce_dependencies(every: float = 10.0) -> threading.Thread:
    """For an API process starting: a thread that says, every `every` seconds, which of Postgres and Redis it
    still waits for, and once that both answer. The process serves meanwhile (readiness 503, requests needing
    the database 503 `unavailable`)."""

    def watch() -> None:
        while True:
            missing = [
                name for name, check in (("PostgreSQL", check_postgres), ("Redis", check_redis)) if not check().ok
            ]
            connection.close()
            if not missing:
                logger.info("API: PostgreSQL and Redis answer")
                return
            logger.warning("API is up and waiting for %s", " and ".join(missing))
            time.sleep(every)

    thread = threading.Thread(target=watch, name="api-dependencies", daemon=True)
    thread.start()
    return thread
