"""Fixtures shared by the whole suite: real worker processes on the test database."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import dj_database_url
import pytest
from django.conf import settings

from workers.lifeline import die_with_parent

ROOT = Path(__file__).resolve().parent.parent
LOG_DIR = ROOT / ".local" / "test" / "logs"


def test_database_url() -> str:
    """The test database's URL, with the password (the embedded server wants one)."""
    db = settings.DATABASES["default"]
    login = quote(db["USER"], safe="") + (f":{quote(db['PASSWORD'], safe='')}" if db.get("PASSWORD") else "")
    return f"postgres://{login}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


class Processes:
    """Platform processes started for tests, on the test database. Their output still reaches the console
    (and pytest's capture) and is also kept in a file per process (`log_files`), for the leak checks."""

    def __init__(self) -> None:
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.log_files: list[Path] = []

    def env(self, **extra: str) -> dict[str, str]:
        return {**os.environ, "DATABASE_URL": test_database_url(), **extra}

    def start(self, name: str, *args: str, **env: str) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(
            [sys.executable, "-m", "workers", *args],
            cwd=ROOT,
            env=self.env(**env),
            start_new_session=True,
            preexec_fn=die_with_parent,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        self.procs[name] = proc
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        log_file = LOG_DIR / f"{name}-{proc.pid}.log"
        self.log_files.append(log_file)
        threading.Thread(target=_tee, args=(proc, log_file), name=f"tee-{name}", daemon=True).start()
        return proc

    def logs(self) -> str:
        """Everything the processes started so far have printed."""
        return "".join(path.read_text(errors="replace") for path in self.log_files if path.exists())

    def start_node(self, name: str, queue: str, concurrency: int = 2, **env: str) -> subprocess.Popen[bytes]:
        return self.start(
            name, "node", "--pool", queue, "--queues", queue, "--concurrency", str(concurrency), "--name", name, **env
        )

    def kill(self, name: str) -> None:
        """SIGKILL the process and everything it started, as a crash or an OOM kill would."""
        proc = self.procs.pop(name)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()

    def stop(self, name: str, timeout: float = 30) -> None:
        proc = self.procs.pop(name)
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    def stop_all(self) -> None:
        for name in list(self.procs):
            self.stop(name)


def _tee(proc: subprocess.Popen[bytes], log_file: Path) -> None:
    assert proc.stdout is not None
    with log_file.open("wb") as sink:
        for chunk in iter(proc.stdout.readline, b""):
            sink.write(chunk)
            sink.flush()
            with contextlib.suppress(OSError):
                os.write(2, chunk)


def wait_until(predicate: Any, timeout: float = 30.0, interval: float = 0.1, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@pytest.fixture(scope="session")
def django_db_setup(django_test_environment: None, django_db_blocker: Any) -> Iterator[None]:
    """A fresh, migrated test database for every session, whichever tests were collected."""
    from django.test.utils import setup_databases, teardown_databases

    with django_db_blocker.unblock():
        config = setup_databases(verbosity=0, interactive=False, aliases={"default"})  # type: ignore[arg-type]  # a set, as Django passes it
    yield
    with django_db_blocker.unblock():
        _disconnect_everyone()
        teardown_databases(config, verbosity=0)


def _disconnect_everyone() -> None:
    """Drop every connection to the test database (SDK helper threads, killed workers) before dropping it."""
    from django.db import connection, connections

    name = connection.settings_dict["NAME"]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            [name],
        )
    connections.close_all()


@pytest.fixture(scope="session")
def live_db(django_db_setup: None, django_db_blocker: Any) -> Iterator[None]:
    """The test database without a wrapping transaction: worker processes must see what tests commit."""
    with django_db_blocker.unblock():
        yield


@pytest.fixture(scope="session")
def platform(live_db: None) -> Iterator[Processes]:
    """Two standard worker processes, one long-running worker and the scheduler, for the whole session."""
    from sfpserver.engine.models import Worker, WorkerStatus

    procs = Processes()
    procs.start("standard", "standard", "--count", "2")
    procs.start("long-running", "long-running", "--count", "1")
    procs.start("scheduler", "scheduler")
    wait_until(
        lambda: Worker.objects.filter(status=WorkerStatus.ACTIVE, pool__in=["standard", "long-running"]).count() >= 3,
        timeout=60,
        what="workers to register",
    )
    yield procs
    procs.stop_all()


@pytest.fixture
def db_access(live_db: None) -> None:
    """Tests that read and write the database without needing workers."""


__all__ = ["Processes", "dj_database_url", "wait_until"]
