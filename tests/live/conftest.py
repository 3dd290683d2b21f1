"""Personas of the live-feed tests (the API's: owner, member, application, outsider), committed, because
the feed reads the database from other threads and other processes."""

from __future__ import annotations

import pytest

from tests.api.conftest import Personas, make_personas


@pytest.fixture
def live_personas(live_db: None) -> Personas:
    return make_personas()
