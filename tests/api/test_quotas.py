"""No single token can stall the platform: requests are counted per token in Redis and answered 429 past the
rate, and a token holds at most API_MAX_RECURRING_PER_TOKEN active recurring tasks."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import redis
from django.core.cache import caches
from django_celery_beat.models import PeriodicTask

from sfpserver.submissions.models import SubmittedTask
from tests.api.conftest import Personas
from tests.api.helpers import operation_id, row_counts, submit

pytestmark = pytest.mark.django_db

SINGLE = {"type": "test.single", "data": {}}
NIGHTLY = {"type": "test.single", "data": {}, "recurrenceConfig": {"cron": "0 2 * * *", "timezone": "UTC"}}


@pytest.fixture(autouse=True)
def fresh_counters() -> Iterator[None]:
    """Token ids restart with every test database; the counters of an earlier run must not count here."""
    caches["throttle"].clear()
    yield
    caches["throttle"].clear()


def throttled(scope: str, limit: int, setting: str) -> dict[str, str]:
    return {
        "error": "throttled",
        "detail": f"this token sent more than {limit} {scope} requests this hour ({setting}); "
        "retry after the number of seconds in the Retry-After header",
    }


def test_a_token_past_its_read_rate_is_answered_429_with_retry_after(personas: Personas, settings: Any) -> None:
    settings.API_THROTTLE_READ_RATE = "3/hour"
    assert [personas.app.client.get("/sfp/api/runs").status_code for _ in range(3)] == [200, 200, 200]
    refused = personas.app.client.get("/sfp/api/runs")
    assert (refused.status_code, refused.json()) == (429, throttled("read", 3, "API_THROTTLE_READ_RATE"))
    assert 0 < int(refused["Retry-After"]) <= 3600


def test_the_rate_is_per_token_and_reads_and_writes_count_apart(personas: Personas, settings: Any) -> None:
    settings.API_THROTTLE_READ_RATE = "2/hour"
    for _ in range(3):
        personas.app.client.get("/sfp/api/runs")
    assert personas.app.client.get("/sfp/api/runs").status_code == 429
    assert personas.outsider.client.get("/sfp/api/runs").status_code == 200  # another token
    assert submit(personas.app.client, SINGLE).status_code == 201  # a write


def test_a_token_past_its_write_rate_triggers_nothing_more(personas: Personas, settings: Any) -> None:
    settings.API_THROTTLE_WRITE_RATE = "2/hour"
    assert [submit(personas.app.client, SINGLE).status_code for _ in range(2)] == [201, 201]
    before = row_counts()
    refused = submit(personas.app.client, SINGLE)
    assert (refused.status_code, refused.json()) == (429, throttled("write", 2, "API_THROTTLE_WRITE_RATE"))
    assert row_counts() == before
    assert personas.app.client.get("/sfp/api/runs").status_code == 200  # reads still go through


def test_credential_leases_count_against_their_own_rate(personas: Personas, settings: Any) -> None:
    settings.API_THROTTLE_WRITE_RATE = "1/hour"
    settings.API_THROTTLE_LEASE_RATE = "2/hour"
    settings.VAULT_LEASE_ENDPOINT = True  # served, as where workers lease over HTTP
    lease = {"step_id": "00000000-0000-0000-0000-000000000001", "attempt": 0, "worker_id": "w", "names": ["x"]}
    answers = [personas.app.client.post("/sfp/api/internal/leases", lease, format="json") for _ in range(3)]
    assert [a.status_code == 429 for a in answers] == [False, False, True]
    assert answers[-1].json() == throttled("lease", 2, "API_THROTTLE_LEASE_RATE")


def test_a_window_s_counter_expires_with_its_window(personas: Personas, settings: Any) -> None:
    settings.API_THROTTLE_READ_RATE = "100/min"
    assert [personas.member.client.get("/sfp/api/runs").status_code for _ in range(2)] == [200, 200]

    client = redis.Redis.from_url(settings.CACHES["throttle"]["LOCATION"])
    keys = list(client.scan_iter(f"*read:{personas.member.token.pk}:*"))
    assert len(keys) == 1
    assert int(client.get(keys[0]) or 0) == 2
    assert 0 < client.ttl(keys[0]) <= 61  # the window's minute and one second: not a counter kept for good


def test_requests_go_through_when_the_counters_redis_does_not_answer(personas: Personas, settings: Any) -> None:
    settings.API_THROTTLE_READ_RATE = "1/hour"
    settings.CACHES = {
        **settings.CACHES,
        "throttle": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/1",
            "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
        },
    }
    assert [personas.app.client.get("/sfp/api/runs").status_code for _ in range(3)] == [200, 200, 200]


# --- recurring tasks per token --------------------------------------------------------------------------------

QUOTA_EXCEEDED = {
    "error": "quota_exceeded",
    "detail": "this token already has 2 active recurring tasks, the most allowed (API_MAX_RECURRING_PER_TOKEN); "
    "stop one (POST /sfp/api/tasks/{operationId}/stop-recurring) first",
}


def test_a_token_at_its_recurring_task_cap_is_refused_and_nothing_is_created(personas: Personas, settings: Any) -> None:
    settings.API_MAX_RECURRING_PER_TOKEN = 2
    first = operation_id(submit(personas.app.client, NIGHTLY))
    operation_id(submit(personas.app.client, NIGHTLY))
    before = (row_counts(), SubmittedTask.objects.count(), PeriodicTask.objects.count())
    refused = submit(personas.app.client, NIGHTLY)
    assert (refused.status_code, refused.json()) == (429, QUOTA_EXCEEDED)
    assert (row_counts(), SubmittedTask.objects.count(), PeriodicTask.objects.count()) == before
    assert submit(personas.app.client, SINGLE).status_code == 201  # one-off tasks are not capped
    assert submit(personas.outsider.client, NIGHTLY).status_code == 201  # another token has its own cap
    assert personas.app.client.post(f"/sfp/api/tasks/{first}/stop-recurring").status_code == 200
    assert submit(personas.app.client, NIGHTLY).status_code == 201  # a stopped one frees its place
