"""Started as root from a folder other users cannot pass (a home directory, a `mktemp -d` folder), the embedded
Postgres still starts: its data and, when needed, its binaries go where its service user reaches them, and no
folder of the user's is opened up."""

from __future__ import annotations

import os
import shutil
import socket
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from config.embedded import (
    SERVICE_HOME,
    EmbeddedPostgres,
    _run_as_user,
    data_home,
    reachable_by_others,
    reachable_copy,
)

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the servers run as a service user only under root")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def private() -> Iterator[Path]:
    """A folder as `mktemp -d` makes it: 0700, root's."""
    folder = Path(tempfile.mkdtemp(prefix="sfp-private-"))
    assert mode(folder) == 0o700
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_a_folder_under_a_closed_one_is_not_reachable_by_others(private: Path) -> None:
    (private / "checkout").mkdir(mode=0o755)

    assert reachable_by_others(private / "checkout" / ".local" / "run") is False
    assert reachable_by_others(Path(tempfile.gettempdir())) is True
    assert reachable_by_others(Path("/usr/bin/env")) is True


def test_the_data_stays_in_the_checkout_when_the_service_user_reaches_it(tmp_path: Path) -> None:
    open_base = Path(tempfile.gettempdir()) / "sfp-open-check" / ".local" / "run"

    assert data_home(open_base, "sfpserver") == open_base
    assert data_home(tmp_path / "closed", None) == tmp_path / "closed"  # not root: the servers run as us


def test_the_data_of_a_closed_checkout_goes_under_a_root_owned_0711_folder(private: Path) -> None:
    base = private / "checkout" / ".local" / "run"

    home = data_home(base, "sfpserver")
    try:
        assert home.parent == SERVICE_HOME and home.name.startswith("sfpserver-")
        assert home == data_home(base, "sfpserver")  # the same folder on every start
        assert (home.stat().st_uid, mode(home)) == (0, 0o711)
        assert mode(private) == 0o700  # nothing of the user's was opened up
    finally:
        shutil.rmtree(home, ignore_errors=True)


def test_binaries_the_service_user_cannot_reach_are_copied_once_with_their_libraries(private: Path) -> None:
    site = private / "venv" / "site-packages"
    (site / "pkg" / "bin").mkdir(parents=True)
    (site / "pkg" / "bin" / "server").write_text("#!/bin/sh\n")
    (site / "pkg" / "bin" / "server").chmod(0o755)
    (site / "pkg.libs").mkdir()
    (site / "pkg.libs" / "libx.so").write_text("lib")
    parts = ("pkg/bin", "pkg.libs")

    copy = reachable_copy(site, parts, "sfpserver")
    try:
        assert copy != site and (copy / "pkg" / "bin" / "server").read_text() == "#!/bin/sh\n"
        assert (copy / "pkg.libs" / "libx.so").read_text() == "lib"  # beside it, as $ORIGIN paths expect
        assert reachable_by_others(copy / "pkg" / "bin" / "server") and mode(copy / "pkg" / "bin" / "server") == 0o755
        assert (copy.stat().st_uid, mode(copy)) == (0, 0o711)
        assert reachable_copy(site, parts, "sfpserver") == copy
        assert reachable_copy(site, parts, None) == site
    finally:
        shutil.rmtree(copy, ignore_errors=True)


def test_postgres_starts_for_a_checkout_in_a_private_folder(private: Path) -> None:
    base = private / "checkout" / ".local" / "run"
    base.mkdir(parents=True)
    home = data_home(base, _run_as_user())
    postgres = EmbeddedPostgres(home / "postgres", free_port(), secrets_dir=base)
    try:
        assert postgres.start() is True
        with psycopg.connect(postgres.url()) as conn:
            assert conn.execute("SELECT current_database()").fetchone() == ("sfpserver",)
        assert mode(postgres.password_file) == 0o600 and postgres.password_file.parent == base
        assert mode(private) == 0o700
    finally:
        postgres.stop("immediate")
        shutil.rmtree(home, ignore_errors=True)
