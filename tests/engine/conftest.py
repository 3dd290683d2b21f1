"""`pure` tests (table tests of the engine's pure decisions) use no database, broker or process."""

from __future__ import annotations

import pytest

SERVER_FIXTURES = {"db_access", "live_db", "platform", "django_db_setup", "services", "db", "transactional_db"}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "pure: a table test of a pure decision: no server, under a second")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("pure") is not None:
            used = SERVER_FIXTURES & set(getattr(item, "fixturenames", ()))
            assert not used, f"{item.nodeid} is marked pure but uses {sorted(used)}"
