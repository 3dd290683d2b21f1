"""Environment configuration: lock an org with a ticket, refuse a second lock, unlock only with the ticket."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.engine.helpers import steps
from tests.tasks.conftest import Org, run
from tests.tasks.conftest import output as step_output

pytestmark = pytest.mark.usefixtures("platform")


def output(run_id: Any) -> dict[str, Any]:
    return step_output(run_id, "configure_environment")


def error(run_id: Any) -> str:
    return str(steps(run_id)["configure_environment"].error)


def test_an_environment_is_locked_with_a_ticket_and_unlocked_only_with_it(orgs: dict[str, Org]) -> None:
    env = orgs["staging"].name
    locked = run("sfp-environment", {"environment": env, "action": "lock", "duration_minutes": 30, "reason": "release"})
    assert locked.status == "COMPLETED"
    lock = output(locked.id)
    assert (lock["status"], lock["environmentName"], lock["duration"]) == ("acquired", env, 30)
    assert (lock["salesforceUsername"], lock["instanceUrl"]) == (
        f"ci@{env}.example",
        f"https://{env}.my.salesforce.com",
    )

    busy = run("sfp-environment", {"environment": env, "action": "lock"})
    assert busy.status == "FAILED"
    assert error(busy.id).startswith(f"environment {env!r} is locked until ")

    wrong = run("sfp-environment", {"environment": env, "action": "unlock", "ticket": str(uuid.uuid4())})
    assert error(wrong.id) == f"the ticket does not match the lock held on environment {env!r}"

    released = run("sfp-environment", {"environment": env, "action": "unlock", "ticket": lock["ticketId"]})
    assert output(released.id) == {"status": "released", "environmentName": env, "ticketId": lock["ticketId"]}


def test_locking_an_unknown_environment_fails_naming_it(db_access: None) -> None:
    finished = run("sfp-environment", {"environment": "no-such-env", "action": "lock"})

    assert error(finished.id) == "unknown environment 'no-such-env': no org credential by that name in the vault"
