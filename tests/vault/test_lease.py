"""Leases: only the running attempt, on its own worker, gets the credentials its step declared; every
request is audited, granted or refused, and the lease is useless once the attempt ended."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from uuid import uuid4

import pytest

from sfpserver.engine import lifecycle
from sfpserver.engine.models import StepRun, Worker
from sfpserver.engine.runtime import is_non_retryable
from sfpserver.vault import services
from sfpserver.vault.exceptions import CredentialMissing, LeaseRefused
from sfpserver.vault.models import CredentialAudit
from tests.vault.conftest import Running, unique

pytestmark = pytest.mark.usefixtures("db_access")


@pytest.fixture
def credential() -> str:
    name = unique("gen")
    services.store("generic", name, f"secret of {name}")
    return name


def lease_audit(name: str) -> list[tuple[bool, str, str]]:
    rows = CredentialAudit.objects.filter(credential_names__contains=[name], action="LEASE").order_by("id")
    return [(row.granted, row.actor, row.reason) for row in rows]


def test_the_running_attempt_gets_its_declared_credentials(start_step: Callable[..., Running], credential: str) -> None:
    step = start_step([credential])
    assert services.describe(credential)["last_used_at"] is None
    values = services.lease(
        step.step_id, step.attempt, step.worker_id, [credential], secret=step.secret, requester="worker:w1"
    )
    assert values == {credential: f"secret of {credential}"}
    assert services.describe(credential)["last_used_at"] is not None
    audit = CredentialAudit.objects.get(credential_names__contains=[credential], action="LEASE")
    assert (
        audit.granted,
        audit.actor,
        audit.step_id,
        audit.run_id,
        audit.step_name,
        audit.attempt,
        audit.worker_id,
    ) == (True, "worker:w1", step.step_id, step.run_id, "use", 0, step.worker_id)


def test_a_lease_for_another_step_is_refused(start_step: Callable[..., Running], credential: str) -> None:
    mine, other = start_step([credential]), start_step([], step_name="other")
    with pytest.raises(LeaseRefused) as raised:
        services.lease(
            other.step_id, other.attempt, other.worker_id, [credential], secret=other.secret, requester="worker:w1"
        )
    reason = f"step 'other' did not declare credential(s) {credential!r} in its args['credentials']"
    assert raised.value.reason == reason
    assert is_non_retryable(raised.value)
    assert lease_audit(credential) == [(False, "worker:w1", reason)]
    assert mine.step_id != other.step_id


def test_a_lease_for_a_step_that_does_not_exist_is_refused(credential: str) -> None:
    missing_step = uuid4()
    with pytest.raises(LeaseRefused, match=f"no attempt of step {missing_step} holds this lease secret"):
        services.lease(missing_step, 0, uuid4(), [credential], secret="guess", requester="worker:w1")
    assert [granted for granted, *_ in lease_audit(credential)] == [False]


def test_a_lease_for_another_attempt_is_refused(start_step: Callable[..., Running], credential: str) -> None:
    step = start_step([credential])
    with pytest.raises(LeaseRefused) as raised:
        services.lease(
            step.step_id, step.attempt + 1, step.worker_id, [credential], secret=step.secret, requester="worker:w1"
        )
    assert raised.value.reason == "step 'use' is running attempt 0, not attempt 1"
    assert lease_audit(credential) == [(False, "worker:w1", raised.value.reason)]


def test_a_lease_from_another_worker_is_refused(start_step: Callable[..., Running], credential: str) -> None:
    step = start_step([credential])
    intruder = uuid4()
    with pytest.raises(LeaseRefused) as raised:
        services.lease(
            step.step_id, step.attempt, intruder, [credential], secret=step.secret, requester="worker:intruder"
        )
    assert raised.value.reason == f"step 'use' attempt 0 is not running on worker {intruder}"
    assert lease_audit(credential) == [(False, "worker:intruder", raised.value.reason)]


def test_a_lease_is_useless_once_the_attempt_ended(start_step: Callable[..., Running], credential: str) -> None:
    step = start_step([credential])
    assert services.lease(step.step_id, step.attempt, step.worker_id, [credential], secret=step.secret, requester="w")
    assert lifecycle.complete_attempt(step.step_id, step.attempt, {"done": True})
    with pytest.raises(LeaseRefused) as raised:
        services.lease(step.step_id, step.attempt, step.worker_id, [credential], secret=step.secret, requester="w")
    assert raised.value.reason == f"step 'use' ({step.step_id}) is COMPLETED, not RUNNING"
    assert [granted for granted, *_ in lease_audit(credential)] == [True, False]


def test_undeclared_names_refuse_the_whole_lease(start_step: Callable[..., Running], credential: str) -> None:
    undeclared = unique("gen")
    services.store("generic", undeclared, "not for this step")
    step = start_step([credential])
    with pytest.raises(LeaseRefused, match=f"did not declare credential\\(s\\) {undeclared!r}"):
        services.lease(
            step.step_id, step.attempt, step.worker_id, [credential, undeclared], secret=step.secret, requester="w"
        )
    assert [granted for granted, *_ in lease_audit(credential)] == [False]
    assert [granted for granted, *_ in lease_audit(undeclared)] == [False]
    assert services.describe(credential)["last_used_at"] is None


def test_a_missing_credential_fails_the_lease_naming_it(start_step: Callable[..., Running], credential: str) -> None:
    absent = unique("absent")
    step = start_step([credential, absent])
    with pytest.raises(CredentialMissing) as raised:
        services.lease(
            step.step_id, step.attempt, step.worker_id, [credential, absent], secret=step.secret, requester="w"
        )
    assert str(raised.value) == f"credential {absent!r} does not exist in the vault"
    assert is_non_retryable(raised.value)
    assert lease_audit(absent) == lease_audit(credential) == [(False, "w", str(raised.value))]  # one row for both


def test_a_step_declaring_a_single_name_as_a_string_may_lease_it(
    start_step: Callable[..., Running], credential: str
) -> None:
    step = start_step(credential)  # a plain string: the step declares exactly this one
    assert services.lease(step.step_id, step.attempt, step.worker_id, [credential], secret=step.secret, requester="w")


# --- the lease is proved by possession of the attempt's secret ---------------------------------------------------


def test_a_lease_without_the_attempts_secret_is_refused_and_audited_once(
    start_step: Callable[..., Running], credential: str
) -> None:
    step = start_step([credential, "other-name"])
    with pytest.raises(LeaseRefused) as raised:  # everything else right: step, attempt, worker, declared names
        services.lease(
            step.step_id, step.attempt, step.worker_id, [credential, "other-name"], secret="a-guess", requester="app:x"
        )
    assert raised.value.reason == f"no attempt of step {step.step_id} holds this lease secret"
    assert is_non_retryable(raised.value)
    rows = list(CredentialAudit.objects.filter(step_id=step.step_id).values_list("granted", "credential_names"))
    assert rows == [(False, [credential, "other-name"])]
    assert services.describe(credential)["last_used_at"] is None


def test_the_secret_of_an_earlier_attempt_is_refused(
    start_step: Callable[..., Running], credential: str, worker_row: Worker
) -> None:
    first = start_step([credential])
    assert lifecycle.reassign(first.step_id, first.attempt, "its worker died")
    again = lifecycle.claim(first.step_id, first.attempt + 1, worker_row.id, worker_row.name)
    assert again is not None and again.lease_secret != first.secret
    assert again.lease_secret not in repr(again)  # a claim's repr (a log line, a traceback) never shows it
    with pytest.raises(LeaseRefused, match="holds this lease secret"):
        services.lease(first.step_id, again.attempt, worker_row.id, [credential], secret=first.secret, requester="w")
    granted = services.lease(
        first.step_id, again.attempt, worker_row.id, [credential], secret=again.lease_secret, requester="w"
    )
    assert granted == {credential: f"secret of {credential}"}


def test_postgres_keeps_only_the_hash_of_the_lease_secret(start_step: Callable[..., Running]) -> None:
    step = start_step([])
    row = StepRun.objects.filter(id=step.step_id).values().get()
    assert row["lease_hash"] == hashlib.sha256(step.secret.encode()).hexdigest()
    assert len(step.secret) >= 32 and all(step.secret not in str(value) for value in row.values())
