"""Bad input answers a 4xx whose body names the field and the problem, and records and queues nothing."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import override_settings

from sfpserver.submissions import task_types
from tests.api.conftest import Personas
from tests.api.helpers import row_counts, submit

pytestmark = pytest.mark.django_db

KNOWN = ", ".join(sorted([*task_types.TASK_TYPES, "test.dag", "test.refuse", "test.single", "test.slow"]))
DATETIME_FORMATS = "YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z]"


def nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(depth - 1):
        value = {"a": value}
    return value


BAD_BODIES = [
    pytest.param(
        {"type": "deploy-everything", "data": {}},
        {"type": f'unknown task type "deploy-everything"; known types: {KNOWN}'},
        id="unknown-type",
    ),
    pytest.param(
        {"type": 7, "data": {}}, {"type": f'unknown task type "7"; known types: {KNOWN}'}, id="type-not-a-string"
    ),
    pytest.param({"data": {}}, {"type": "This field is required."}, id="missing-type"),
    pytest.param(
        {"type": "test.dag", "data": {}, "continueOnFailure": ["b", "z"]},
        {"continueOnFailure": "no step 'z' in 't.dag' (steps: a, b, c, d)"},
        id="continue-past-an-unknown-step",
    ),
    pytest.param(
        {"type": "test.dag", "data": {}, "continueOnFailure": "b"},
        {"continueOnFailure": 'Expected a list of items but got type "str".'},
        id="continue-on-failure-not-a-list",
    ),
    pytest.param(
        {
            "type": "test.dag",
            "data": {},
            "continueOnFailure": ["nope"],
            "recurrenceConfig": {"cron": "0 9 * * *"},
        },
        {"continueOnFailure": "no step 'nope' in 't.dag' (steps: a, b, c, d)"},
        id="continue-past-an-unknown-step-of-a-recurring-task",
    ),
    pytest.param({"type": "test.single"}, {"data": "This field is required."}, id="missing-data"),
    pytest.param(
        {"type": "test.single", "data": [1, 2]},
        {"data": 'Expected a dictionary of items but got type "list".'},
        id="data-a-list",
    ),
    pytest.param(
        {"type": "test.single", "data": {}, "metadata": "x"},
        {"metadata": 'Expected a dictionary of items but got type "str".'},
        id="metadata-a-string",
    ),
    pytest.param(
        {"type": "test.single", "data": {}, "priority": "urgent"},
        {"priority": '"urgent" is not a valid choice; one of: low, medium, high'},
        id="bad-priority",
    ),
    pytest.param(
        {"type": "test.single", "data": {}, "lockDuration": -1},
        {"lockDuration": "Ensure this value is greater than or equal to 0."},
        id="negative-lock",
    ),
    pytest.param(
        {"type": "test.single", "data": {}, "lockDuration": "long"},
        {"lockDuration": "A valid integer is required."},
        id="lock-not-a-number",
    ),
    pytest.param({"type": "test.single", "data": {}, "colour": "red"}, {"colour": "unknown field"}, id="unknown-field"),
    pytest.param(
        {"type": "test.single", "data": {}, "scheduledFor": "tomorrow"},
        {"scheduledFor": f"Datetime has wrong format. Use one of these formats instead: {DATETIME_FORMATS}."},
        id="bad-time",
    ),
    pytest.param(
        {"type": "test.single", "data": {}, "scheduledFor": "2020-01-01T00:00:00Z"},
        {"scheduledFor": "is in the past; a scheduled task needs a future time"},
        id="time-in-the-past",
    ),
    pytest.param(
        {"type": "test.single", "data": {}, "scheduledFor": "2999-01-01T00:00:00"},
        {"scheduledFor": "has no time zone; add one, e.g. Z or +02:00"},
        id="time-without-zone",
    ),
    pytest.param(
        {"type": "test.single", "data": {}, "scheduleType": "scheduled"},
        {"scheduledFor": "required when scheduleType is 'scheduled'"},
        id="scheduled-without-time",
    ),
    pytest.param(
        {"type": "test.single", "data": {}, "scheduleType": "recurring"},
        {"recurrenceConfig": "required when scheduleType is 'recurring'"},
        id="recurring-without-config",
    ),
    pytest.param(
        {"type": "test.single", "data": {}, "scheduleType": "immediate", "scheduledFor": "2030-01-01T00:00:00Z"},
        {"scheduleType": "an immediate task takes neither scheduledFor nor recurrenceConfig"},
        id="immediate-with-time",
    ),
    pytest.param(
        {
            "type": "test.single",
            "data": {},
            "scheduledFor": "2030-01-01T00:00:00Z",
            "recurrenceConfig": {"cron": "* * * * *"},
        },
        {"recurrenceConfig": "a task is either scheduled (scheduledFor) or recurring, not both"},
        id="scheduled-and-recurring",
    ),
    pytest.param(
        {"type": "test.single", "data": {}, "recurrenceConfig": {"cron": "61 * * * *"}},
        {"recurrenceConfig.cron": "the minute field '61' is not valid: Invalid end range: 61 > 59."},
        id="cron-minute-out-of-range",
    ),
    pytest.param(
        {"type": "test.single", "data": {}, "recurrenceConfig": {"cron": "* * * *"}},
        {"recurrenceConfig.cron": "expected 5 fields (minute hour day-of-month month day-of-week), got 4"},
        id="cron-four-fields",
    ),
    pytest.param(
        {"type": "test.single", "data": {}, "recurrenceConfig": {"cron": "*/0 * * * *"}},
        {"recurrenceConfig.cron": "the minute field '*/0' is not valid: slice step cannot be zero"},
        id="cron-zero-step",
    ),
    pytest.param(
        {"type": "test.single", "data": {}, "recurrenceConfig": {"cron": "* * * 13 *"}},
        {"recurrenceConfig.cron": "the month field '13' is not valid: Invalid end range: 13 > 12."},
        id="cron-month-13",
    ),
    pytest.param(
        {"type": "test.single", "data": {}, "recurrenceConfig": {"cron": "* * * * *", "timezone": "Mars/Olympus"}},
        {"recurrenceConfig.timezone": "unknown time zone 'Mars/Olympus' (use an IANA name such as 'Europe/Paris')"},
        id="unknown-timezone",
    ),
    pytest.param(
        {"type": "test.single", "data": {}, "recurrenceConfig": {"kron": "* * * * *"}},
        {"recurrenceConfig.kron": "unknown field"},
        id="recurrence-unknown-field",
    ),
    pytest.param(
        {"type": "test.single", "data": {"name": "a\u0000b"}},
        {"data.name": "contains a NUL character (\\u0000), which cannot be stored"},
        id="nul-character",
    ),
    pytest.param(
        {"type": "test.single", "data": nested(40)},
        {"data": "is nested 33 levels deep; the limit is 32"},
        id="too-deep",
    ),
    pytest.param(
        {"type": "test.single", "data": {}, "retryConfig": {"k": "\u0000"}},
        {"retryConfig.k": "contains a NUL character (\\u0000), which cannot be stored"},
        id="nul-in-retry-config",
    ),
    pytest.param(
        [{"type": "test.single"}], {"body": "Invalid data. Expected a dictionary, but got list."}, id="body-a-list"
    ),
]


@pytest.mark.parametrize(("body", "detail"), BAD_BODIES)
def test_a_bad_task_is_refused_naming_the_field_and_nothing_is_recorded(
    personas: Personas, body: Any, detail: dict[str, str]
) -> None:
    before = row_counts()
    response = submit(personas.app.client, body)
    assert (response.status_code, response.json()) == (400, {"error": "invalid_input", "detail": detail})
    assert row_counts() == before


def post_raw(personas: Personas, content: str, content_type: str = "application/json") -> Any:
    return personas.app.client.generic("POST", "/sfp/api/tasks", content, content_type=content_type)


def test_malformed_json_is_refused_and_nothing_is_recorded(personas: Personas) -> None:
    before = row_counts()
    response = post_raw(personas, '{"type": "test.single",')
    assert (response.status_code, response.json()) == (
        400,
        {
            "error": "malformed_json",
            "detail": {
                "body": "malformed JSON: Expecting property name enclosed in double quotes: line 1 column 24 (char 23)"
            },
        },
    )
    assert row_counts() == before


def test_json_constants_outside_the_standard_are_refused_naming_the_field(personas: Personas) -> None:
    response = post_raw(personas, '{"type": "test.single", "data": {"x": NaN}}')
    assert (response.status_code, response.json()) == (
        400,
        {"error": "invalid_input", "detail": {"data.x": "is NaN, which cannot be stored"}},
    )


def test_a_body_that_is_not_json_is_refused_with_415(personas: Personas) -> None:
    before = row_counts()
    response = post_raw(personas, "type=test.single", "application/x-www-form-urlencoded")
    assert (response.status_code, response.json()) == (
        415,
        {
            "error": "unsupported_media_type",
            "detail": {
                "Content-Type": 'Unsupported media type "application/x-www-form-urlencoded" in request. '
                "Send application/json."
            },
        },
    )
    assert row_counts() == before


@override_settings(API_MAX_BODY_BYTES=2048)
def test_an_oversize_body_is_refused_with_413_before_it_is_read(personas: Personas) -> None:
    before = row_counts()
    content = json.dumps({"type": "test.single", "data": {"blob": "x" * 4000}})
    response = post_raw(personas, content)
    assert (response.status_code, response.json()) == (
        413,
        {
            "error": "payload_too_large",
            "detail": {"body": f"the request body is {len(content)} bytes; the limit is 2048"},
        },
    )
    assert row_counts() == before


@override_settings(API_MAX_INPUT_BYTES=100)
def test_task_data_over_the_input_limit_is_refused(personas: Personas) -> None:
    before = row_counts()
    response = submit(personas.app.client, {"type": "test.single", "data": {"blob": "x" * 200}})
    assert (response.status_code, response.json()) == (
        400,
        {"error": "invalid_input", "detail": {"data": "is 211 bytes once encoded; the limit is 100"}},
    )
    assert row_counts() == before


def test_an_unknown_path_under_the_api_answers_the_same_404_body(personas: Personas) -> None:
    response = personas.owner.client.get("/sfp/api/nothing-here")
    assert (response.status_code, response.json()) == (
        404,
        {"error": "not_found", "detail": "no such resource: /sfp/api/nothing-here"},
    )


def test_a_method_the_endpoint_does_not_have_answers_405(personas: Personas) -> None:
    response = personas.owner.client.get("/sfp/api/tasks")
    assert (response.status_code, response.json()) == (
        405,
        {"error": "method_not_allowed", "detail": 'Method "GET" not allowed.'},
    )


def test_a_path_holding_a_newline_gets_the_same_404_body(personas: Personas) -> None:
    response = personas.owner.client.get("/sfp/api/schedules/1%0A2")
    assert (response.status_code, response.json()) == (
        404,
        {"error": "not_found", "detail": "no such resource: /sfp/api/schedules/1\n2"},
    )
