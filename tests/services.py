"""Loaded before Django (pytest -p): the test run starts its own real PostgreSQL and Redis.

Unless DATABASE_URL / REDIS_URL are given, embedded servers run under .local/test on their own ports, so a
test run and `make run` never share data. Engine timings are shortened so fault tests finish quickly.
"""

from __future__ import annotations

import base64
import os
import secrets
import tempfile

import pytest

from config.embedded import EmbeddedServices, ensure_services

# Two checkouts testing at once (say, two git worktrees) each set their own ports.
TEST_PG_PORT = int(os.environ.get("TEST_PG_PORT", "54339"))
TEST_REDIS_PORT = int(os.environ.get("TEST_REDIS_PORT", "63809"))

FAST_ENGINE = {
    "ENGINE_WORKFLOW_MODULES": ",".join(
        [
            "tests.engine.workflows",
            "tests.engine.celery_tasks",
            "tests.vault.workflows",
            "tasks.demo",
            "tasks.operations",
            "tests.tasks.workflows",
        ]
    ),
    "ENGINE_HEARTBEAT_INTERVAL": "0.5",
    "ENGINE_WORKER_DEAD_AFTER": "3",
    "ENGINE_REDISPATCH_AFTER": "3",
    "ENGINE_TICK": "0.2",
    "ENGINE_CANCEL_GRACE": "0.5",
    "ENGINE_ORPHAN_GRACE": "2",
    "ENGINE_STANDBY_CHECK": "0.5",
    "LOG_LEVEL": "WARNING",
    # Tests send many requests with one token; tests/api/test_quotas.py sets low rates where it means to.
    "API_THROTTLE_READ_RATE": "1000000/min",
    "API_THROTTLE_WRITE_RATE": "1000000/min",
    "API_THROTTLE_LEASE_RATE": "1000000/min",
    "SFP_CLI": "standin",
    "SFP_KILL_GRACE": "2",
}


def _start() -> EmbeddedServices:
    for key, value in FAST_ENGINE.items():
        os.environ.setdefault(key, value)
    # A fresh vault key per test run, shared with the worker processes the tests start.
    os.environ.setdefault(
        "SFP_WORK_DIR", os.path.join(os.path.dirname(os.path.dirname(__file__)), ".local", "test", "work")
    )
    # file:// repositories (the tests' sample repositories under pytest's tmp_path) are cloned from here only.
    os.environ.setdefault("SFP_FILE_REPOSITORY_ROOT", os.path.realpath(tempfile.gettempdir()))
    os.environ.setdefault("VAULT_KEYS", "test:" + base64.b64encode(secrets.token_bytes(32)).decode())
    return ensure_services("test", TEST_PG_PORT, TEST_REDIS_PORT)


# At import, which `-p tests.services` makes happen before pytest-django reads the settings.
_services = _start()


def pytest_unconfigure(config: pytest.Config) -> None:
    if _services is not None:
        _services.stop()


def services() -> EmbeddedServices:
    assert _services is not None
    return _services
