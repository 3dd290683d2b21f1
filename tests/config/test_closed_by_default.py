"""What a deployment gets by default is closed: the public SECRET_KEY is refused unless DEBUG is on (the
system check accounts.E001, run by `manage.py check` and at the start of every platform process), and Flower
does not start without a login and asks for it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from base64 import b64encode
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import conftest
from workers.flower import FlowerAuthError, flower_environ
from workers.lifeline import die_with_parent

ROOT = Path(__file__).resolve().parents[2]
SECRET_NAMES = ("DJANGO_SECRET_KEY", "DJANGO_SECRET_KEY_FILE", "FLOWER_BASIC_AUTH", "FLOWER_BASIC_AUTH_FILE")


def deployed_env(**extra: str) -> dict[str, str]:
    """A deployment's environment: its own DATABASE_URL (so nothing local is read) and no secret unless given."""
    env = {k: v for k, v in os.environ.items() if k not in SECRET_NAMES}
    return {**env, "DATABASE_URL": conftest.test_database_url(), "DJANGO_DEBUG": "false", **extra}


def run(*argv: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *argv], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_manage_py_check_refuses_the_public_secret_key_when_debug_is_off() -> None:
    done = run("manage.py", "check", env=deployed_env())

    assert done.returncode != 0
    assert "accounts.E001" in done.stderr
    assert "SECRET_KEY is the public default while DEBUG is off" in done.stderr


def test_the_api_does_not_start_with_the_public_secret_key() -> None:
    done = run("-m", "workers", "api", "--port", str(free_port()), env=deployed_env())

    assert done.returncode != 0
    assert "refusing to start" in done.stderr and "accounts.E001" in done.stderr


def test_a_secret_key_or_debug_lets_it_start() -> None:
    assert run("manage.py", "check", env=deployed_env(DJANGO_SECRET_KEY="k" * 50)).returncode == 0
    assert run("manage.py", "check", env=deployed_env(DJANGO_DEBUG="true")).returncode == 0


def test_flower_does_not_start_without_a_login() -> None:
    done = run("-m", "workers", "flower", "--port", str(free_port()), env=deployed_env())

    assert done.returncode != 0
    assert (
        "python -m workers flower: Flower needs a login: set FLOWER_BASIC_AUTH=user:password "
        "(or FLOWER_BASIC_AUTH_FILE)" in done.stderr
    )


@pytest.mark.parametrize("value", ["", "sfp", "sfp:", "sfp:short", ":longenough1", "sfp:long enough"])
def test_a_flower_login_without_a_real_password_is_refused(value: str) -> None:
    with pytest.raises(FlowerAuthError):
        flower_environ(value)


def test_flower_is_handed_its_login_through_its_environment() -> None:
    assert flower_environ(" ops:0123456789 , ci:abcdefghij ") == {"FLOWER_BASIC_AUTH": "ops:0123456789,ci:abcdefghij"}


@pytest.fixture
def flower(tmp_path: Path) -> Iterator[int]:
    port = free_port()
    login = tmp_path / "flower-auth"
    login.write_text("ops:correct-horse-battery\n")
    proc = subprocess.Popen(
        [sys.executable, "-m", "workers", "flower", "--port", str(port)],
        cwd=ROOT,
        # It reads the broker only: as in the deploy files, it is given no reachable database.
        env=deployed_env(FLOWER_BASIC_AUTH_FILE=str(login), DATABASE_URL="postgres://nobody@127.0.0.1:1/none"),
        start_new_session=True,
        preexec_fn=die_with_parent,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        conftest.wait_until(lambda: _listening(port) or proc.poll() is not None, timeout=60, what="Flower")
        assert proc.poll() is None, "Flower exited"
        yield port
    finally:
        proc.terminate()
        proc.wait(30)


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def status(port: int, path: str, login: str | None = None) -> int:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}")
    if login is not None:
        request.add_header("Authorization", "Basic " + b64encode(login.encode()).decode())
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def test_flower_asks_for_its_login(flower: int) -> None:
    for path in ("/", "/workers", "/api/tasks"):
        assert status(flower, path) == 401, path
        assert status(flower, path, "ops:wrong-password") == 401, path
    assert status(flower, "/workers", "ops:correct-horse-battery") == 200
