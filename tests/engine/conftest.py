"""`pure` tests (table tests of the engine's pure decisions) use no database, broker or process; `nodes` gives fault
tests the worker processes they start, stopped afterwards."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import Processes

SERVER_FIXTURES = {"db_access", "live_db", "platform", "django_db_setup", "services", "db", "transactional_db"}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "pure: a table test of a pure decision: no server, under a second")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("pure") is not None:
            used = SERVER_FIXTURES & set(getattr(item, "fixturenames", ()))
            assert not used, f"{item.nodeid} is marked pure but uses {sorted(used)}"


@pytest.fixture
def nodes(platform: Processes) -> Iterator[Processes]:
    """The worker processes a test starts on the platform; whatever of them is still alive is stopped afterwards."""
    before = set(platform.procs)
    yield platform
    for name in set(platform.procs) - before:
        platform.stop(name)
