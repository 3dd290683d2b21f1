"""Waiting out a database that is down: a leaf module, below the runtime, the worker and the scheduler.

`with_db_retry` retries an operation across a Postgres restart for a while (a step's result is not lost);
`wait_for_database` waits as long as it takes (a process started while the database is down serves once it
is up). Both close the broken connection before each new try.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from django.db import InterfaceError, OperationalError, connection

logger = logging.getLogger(__name__)

DB_RETRY_SECONDS = 120.0


def with_db_retry(operation: Callable[[], Any], what: str) -> Any:
    """Run a database operation, waiting out a Postgres restart instead of losing the result."""
    deadline = time.monotonic() + DB_RETRY_SECONDS
    delay = 0.2
    while True:
        try:
            return operation()
        except (OperationalError, InterfaceError):
            if time.monotonic() > deadline:
                raise
            logger.warning("database unavailable while trying to %s; retrying", what)
            connection.close()
            time.sleep(delay)
            delay = min(delay * 2, 3.0)


def wait_for_database(operation: Callable[[], Any], what: str) -> Any:
    """Run a start-up operation, waiting as long as it takes for PostgreSQL (a process started while the database
    is down serves once it is up, instead of exiting into a supervisor's crash loop). Says what it waits for."""
    delay, said = 0.2, 0.0
    while True:
        try:
            return operation()
        except (OperationalError, InterfaceError) as exc:
            if time.monotonic() - said > 10:
                logger.warning("waiting for PostgreSQL to %s: %s", what, str(exc).strip().splitlines()[0][:200])
                said = time.monotonic()
            connection.close()
            time.sleep(delay)
            delay = min(delay * 2, 3.0)
