"""Small measuring tools: percentiles, waiting, and Postgres's commit counter for one database."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import psycopg
from django.db import connection


def percentile(values: Sequence[float], pct: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    rank = (len(ordered) - 1) * pct / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def wait_until(predicate: Callable[[], Any], timeout: float, interval: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


class CommitCounter:
    """pg_stat_database.xact_commit of the engine's database, read over a connection to another database
    (`postgres`) so that reading it commits nothing in the database it counts.

    Postgres publishes a backend's counts when it goes idle, at most once a second, and an idle backend's
    last counts only after PGSTAT_IDLE_INTERVAL (10 s): callers wait that long before reading a total.
    """

    def __init__(self) -> None:
        params = connection.get_connection_params()
        self.database = params["dbname"]
        try:
            self._conn = psycopg.connect(**{**params, "dbname": "postgres"}, autocommit=True)
            self.cost_per_read = 0
        except psycopg.Error:  # no access to `postgres`: read in the counted database, each read one commit
            self._conn = psycopg.connect(**params, autocommit=True)
            self.cost_per_read = 1
        self.reads = 0

    def read(self) -> int:
        row = self._conn.execute(
            "SELECT xact_commit FROM pg_stat_database WHERE datname = %s", [self.database]
        ).fetchone()
        assert row is not None
        self.reads += 1
        return int(row[0])

    def close(self) -> None:
        self._conn.close()
