"""Personas of the API tests: an owner, a member, an application, and an outsider (another application)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from rest_framework.test import APIClient

from sfpserver.accounts import tokens
from sfpserver.accounts.models import ApiToken
from sfpserver.submissions import task_types
from sfpserver.submissions.task_types import TaskType

# Task types the tests add to the type table (the workflows live in tests/engine/workflows.py).
TEST_TASK_TYPES = {
    "test.single": TaskType("t.single"),
    "test.slow": TaskType("t.cancel"),  # a 3 s step, then another
    "test.refuse": TaskType("t.no_retry"),  # fails at once, for good
    "test.dag": TaskType("t.dag"),
}


@dataclass
class Persona:
    name: str
    token: ApiToken
    secret: str
    client: APIClient


@dataclass
class Personas:
    owner: Persona
    member: Persona
    app: Persona
    outsider: Persona  # another team's automation: sees none of `app`'s work

    def all(self) -> list[Persona]:
        return [self.owner, self.member, self.app, self.outsider]


def make_persona(name: str, role: str) -> Persona:
    issued = tokens.issue(name, role)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.secret}")
    return Persona(name, issued.token, issued.secret, client)


def make_personas() -> Personas:
    return Personas(
        owner=make_persona("owner", "owner"),
        member=make_persona("member", "member"),
        app=make_persona("ci", "application"),
        outsider=make_persona("other-team-ci", "application"),
    )


@pytest.fixture(autouse=True)
def test_task_types() -> Iterator[None]:
    saved = dict(task_types.TASK_TYPES)
    task_types.TASK_TYPES.update(TEST_TASK_TYPES)
    yield
    task_types.TASK_TYPES.clear()
    task_types.TASK_TYPES.update(saved)


@pytest.fixture
def personas(db: None) -> Personas:
    """Tokens in the test's transaction (rolled back after it); nothing reaches the broker."""
    return make_personas()


@pytest.fixture
def live_personas(live_db: None) -> Personas:
    """Committed tokens, for tests whose runs go to real workers."""
    return make_personas()


@pytest.fixture
def anonymous() -> APIClient:
    return APIClient()
