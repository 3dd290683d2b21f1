"""JSON that Postgres cannot store (a lone surrogate, a NUL, NaN, ±Infinity, a number that overflows to it),
in a value or a key, however deep, is a 400 naming the field on every endpoint that takes a body; nothing is
recorded, and nothing reaches the database to fail there as a 500."""

from __future__ import annotations

from typing import Any

import pytest
from django_celery_beat.models import PeriodicTask

from sfpserver.engine.models import WorkflowRun
from sfpserver.vault import services
from sfpserver.vault.models import Credential, CredentialAudit
from tests.api.conftest import Personas
from tests.api.helpers import operation_id, row_counts, submit

pytestmark = pytest.mark.django_db

SURROGATE = "contains a lone surrogate (\\ud800), which cannot be stored"
NUL = "contains a NUL character (\\u0000), which cannot be stored"
INFINITE = "is infinite (Infinity, or a number past ±1.8e308 such as 1e400), which cannot be stored"
NAN = "is NaN, which cannot be stored"

# (JSON text of the value, the problem the answer names)
STRINGS = [
    pytest.param('"\\ud800"', SURROGATE, id="lone-high-surrogate"),
    pytest.param('"ok \\udfff"', SURROGATE.replace("ud800", "udfff"), id="lone-low-surrogate"),
    pytest.param('"\\ude00\\ud83d"', SURROGATE.replace("ud800", "ude00"), id="surrogates-in-the-wrong-order"),
    pytest.param('"a\\u0000b"', NUL, id="nul"),
]
NUMBERS = [
    pytest.param("1e400", INFINITE, id="overflow"),
    pytest.param("-1e400", INFINITE, id="negative-overflow"),
    pytest.param("Infinity", INFINITE, id="infinity"),
    pytest.param("-Infinity", INFINITE, id="minus-infinity"),
    pytest.param("NaN", NAN, id="nan"),
]
VALUES = STRINGS + NUMBERS


def put(template: str, value: str) -> str:
    """`template` (JSON text) with `value` (JSON text too) in place of $VALUE."""
    return template.replace("$VALUE", value)


def send(client: Any, method: str, path: str, content: str) -> Any:
    return client.generic(method, path, content.encode(), content_type="application/json")


def refused(field: str, problem: str) -> tuple[int, dict[str, Any]]:
    return 400, {"error": "invalid_input", "detail": {field: problem}}


def answer(response: Any) -> tuple[int, Any]:
    return response.status_code, response.json()


# --- POST /sfp/api/tasks -------------------------------------------------------------------------------------

TASK_PLACES = [
    pytest.param('{"type": "test.single", "data": {"repository": $VALUE}}', "data.repository", id="data"),
    pytest.param('{"type": "test.single", "data": {"steps": [1, {"name": $VALUE}]}}', "data.steps.1.name", id="nested"),
    pytest.param('{"type": "test.single", "data": {}, "metadata": {"team": $VALUE}}', "metadata.team", id="metadata"),
    pytest.param('{"type": $VALUE, "data": {}}', "type", id="type"),
    pytest.param(
        '{"type": "test.single", "data": {"a": $VALUE}, "recurrenceConfig": {"cron": "* * * * *"}}',
        "data.a",
        id="recurring",
    ),
    pytest.param(
        '{"type": "test.single", "data": {"a": $VALUE}, "scheduledFor": "2030-01-01T00:00:00Z"}',
        "data.a",
        id="scheduled",
    ),
]


@pytest.mark.parametrize(("place", "field"), TASK_PLACES)
@pytest.mark.parametrize(("value", "problem"), VALUES)
def test_a_task_holding_what_postgres_cannot_store_is_refused_naming_the_field(
    personas: Personas, place: str, field: str, value: str, problem: str
) -> None:
    before = row_counts()
    response = send(personas.app.client, "POST", "/sfp/api/tasks", put(place, value))
    assert answer(response) == refused(field, problem)
    assert row_counts() == before


@pytest.mark.parametrize(("value", "problem"), STRINGS)
def test_a_key_holding_what_postgres_cannot_store_is_refused_naming_it_escaped(
    personas: Personas, value: str, problem: str
) -> None:
    before = row_counts()
    body = put('{"type": "test.single", "data": {"nested": {"fine": 1, $VALUE: 2}}}', value)
    response = send(personas.app.client, "POST", "/sfp/api/tasks", body)
    key = value.strip('"')  # the path shows the key with its bad characters escaped, as they were sent
    assert answer(response) == refused(f"data.nested.{key}", f"the key {problem}")
    assert row_counts() == before


def test_a_body_that_is_itself_such_a_value_is_refused_as_the_body(personas: Personas) -> None:
    response = send(personas.app.client, "POST", "/sfp/api/tasks", "NaN")
    assert answer(response) == refused("body", NAN)


def test_a_surrogate_pair_and_large_finite_numbers_are_stored(personas: Personas) -> None:
    data = '{"emoji": "\\ud83d\\ude00", "big": 1e308, "small": -1e-320, "whole": 123456789012345678901234567890}'
    response = send(personas.app.client, "POST", "/sfp/api/tasks", put('{"type": "test.single", "data": $VALUE}', data))
    assert response.status_code == 201, response.content
    stored = WorkflowRun.objects.get(id=operation_id(response)).input
    assert (stored["emoji"], stored["whole"], float(stored["big"])) == ("😀", 123456789012345678901234567890, 1e308)


# --- credentials -----------------------------------------------------------------------------------------------

CREDENTIAL_PLACES = [
    pytest.param(
        "POST",
        "/sfp/api/credentials",
        '{"kind": "generic", "name": "new", "secret": "s", "metadata": {"hosts": [$VALUE]}}',
        "metadata.hosts.0",
        id="create-metadata",
    ),
    pytest.param(
        "POST", "/sfp/api/credentials", '{"kind": "generic", "name": $VALUE, "secret": "s"}', "name", id="create-name"
    ),
    pytest.param(
        "POST",
        "/sfp/api/credentials",
        '{"kind": "generic", "name": "new", "secret": $VALUE}',
        "secret",
        id="create-secret",
    ),
    pytest.param(
        "PUT",
        "/sfp/api/credentials/existing",
        '{"kind": "generic", "secret": "s", "metadata": {"a": {"b": $VALUE}}}',
        "metadata.a.b",
        id="replace-metadata",
    ),
    pytest.param("PUT", "/sfp/api/credentials/existing", '{"kind": $VALUE, "secret": "s"}', "kind", id="replace-kind"),
]


def vault_rows() -> tuple[list[tuple[str, str]], int]:
    return list(Credential.objects.values_list("name", "fingerprint")), CredentialAudit.objects.count()


@pytest.mark.parametrize(("method", "path", "place", "field"), CREDENTIAL_PLACES)
@pytest.mark.parametrize(("value", "problem"), VALUES)
def test_a_credential_holding_what_postgres_cannot_store_is_refused_naming_the_field(
    personas: Personas, method: str, path: str, place: str, field: str, value: str, problem: str
) -> None:
    services.store("generic", "existing", "old value", actor="test")
    before = vault_rows()
    response = send(personas.owner.client, method, path, put(place, value))
    assert answer(response) == refused(field, problem)
    assert vault_rows() == before


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_a_credential_name_in_the_path_holding_a_nul_is_refused(personas: Personas, method: str) -> None:
    before = vault_rows()
    response = send(personas.owner.client, method, "/sfp/api/credentials/a%00b", '{"kind": "generic", "secret": "s"}')
    assert answer(response) == refused("name", NUL)
    assert vault_rows() == before


# --- schedules and run actions ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "problem"), VALUES)
def test_a_schedule_change_holding_what_postgres_cannot_store_is_refused(
    personas: Personas, value: str, problem: str
) -> None:
    body = {"type": "test.single", "data": {}, "recurrenceConfig": {"cron": "0 6 * * 1-5", "timezone": "UTC"}}
    schedule = PeriodicTask.objects.get(name=f"task test.single {operation_id(submit(personas.app.client, body))}")
    response = send(personas.owner.client, "PATCH", f"/sfp/api/schedules/{schedule.id}", put('{"cron": $VALUE}', value))
    assert answer(response) == refused("cron", problem)
    schedule.refresh_from_db()
    assert (schedule.enabled, schedule.crontab.minute, schedule.crontab.hour) == (True, "0", "6")


@pytest.mark.parametrize("action", ["cancel", "retry-failed"])
@pytest.mark.parametrize(("value", "problem"), VALUES)
def test_a_run_action_given_such_a_body_is_refused_and_does_nothing(
    personas: Personas, action: str, value: str, problem: str
) -> None:
    response = submit(personas.app.client, {"type": "test.slow", "data": {}})
    run_id = operation_id(response)
    before = row_counts()
    body = put('{"reason": $VALUE}', value)
    response = send(personas.app.client, "POST", f"/sfp/api/runs/{run_id}/{action}", body)
    assert answer(response) == refused("reason", problem)
    assert personas.app.client.get(f"/sfp/api/runs/{run_id}").json()["status"] == "QUEUED"
    assert row_counts() == before
