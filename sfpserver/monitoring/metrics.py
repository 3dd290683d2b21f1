"""Gathering /metrics: each collector runs on its own, so one that fails or times out costs only its own
families; `sfp_metrics_collector_success` and `_duration_seconds` say how each one fared."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from django.conf import settings
from django.db import connection, transaction

from sfpserver.monitoring import broker, collectors
from sfpserver.monitoring.exposition import Family, render
from sfpserver.monitoring.scrape import Scrape

logger = logging.getLogger(__name__)

STATEMENT_TIMEOUT_MS = 5000

Collector = Callable[[Scrape], None]

# In this order: `workers` and `steps` name the queues that `broker` then measures.
DATABASE_COLLECTORS: tuple[Collector, ...] = (
    collectors.engine_state,
    collectors.workers,
    collectors.steps,
    collectors.runs,
    collectors.finished_attempts,
    collectors.started_attempts,
)


def scrape() -> str:
    result = Scrape()
    outcomes: list[tuple[str, bool, float]] = []
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(f"SET LOCAL statement_timeout = {STATEMENT_TIMEOUT_MS}")
        for collector in DATABASE_COLLECTORS:
            outcomes.append(_run(collector, result, in_savepoint=True))
    outcomes.append(_run(broker.broker, result, in_savepoint=False))
    window = result.gauge("sfp_metrics_window_seconds", "The window of the windowed figures (METRICS_WINDOW_SECONDS)")
    window.add(settings.METRICS_WINDOW_SECONDS)
    return render([*result.families.values(), *_health(outcomes)])


def _run(collector: Collector, result: Scrape, *, in_savepoint: bool) -> tuple[str, bool, float]:
    started = time.monotonic()
    try:
        if in_savepoint:
            with transaction.atomic():
                collector(result)
        else:
            collector(result)
        ok = True
    except Exception as exc:  # noqa: BLE001 - one broken source must not hide the rest
        logger.warning("metrics collector %s failed: %s", collector.__name__, exc)
        ok = False
    return collector.__name__, ok, time.monotonic() - started


def _health(outcomes: list[tuple[str, bool, float]]) -> list[Family]:
    success = Family("sfp_metrics_collector_success", "gauge", "1 when the collector's source answered in time")
    duration = Family("sfp_metrics_collector_duration_seconds", "gauge", "Time each collector took")
    for name, ok, seconds in outcomes:
        success.add(ok, {"collector": name})
        duration.add(round(seconds, 6), {"collector": name})
    return [success, duration]
