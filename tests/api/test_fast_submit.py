"""The plain trigger's fast path (sfpserver/api/fast_submit.py), driven through the API's ASGI app (config.asgi):
it answers and records what Django would, serves concurrent triggers together, counts each request once, and
leaves every other request to Django, whose answer the client then gets. Each request is compared with the same
request sent to Django's own handler (config.asgi.django_asgi_app). Requests are ASGI messages as a server hands
them over; the lanes have database connections of their own, so these tests commit (live_db)."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest
import redis
from django.conf import settings
from django.core.cache import caches
from django.core.signals import request_started
from django.db import connection
from django.utils import timezone

from config.asgi import application, django_asgi_app
from config.lanes import LanedASGIHandler
from sfpserver.accounts import permissions, tokens
from sfpserver.accounts.models import ApiToken, Role
from sfpserver.accounts.permissions import Capability
from sfpserver.api import fast_submit
from sfpserver.api.fast_submit import FastSubmit, plain_submission
from sfpserver.api.parsers import parsed_body
from sfpserver.api.serializers.tasks import SubmitTaskRequest
from sfpserver.engine import broker
from sfpserver.engine.models import ScheduledRun, StepRun, StepStatus, WorkflowRun
from sfpserver.submissions import task_types
from sfpserver.submissions.models import RunCreator, SubmittedTask, TaskKind
from sfpserver.submissions.services import Submission
from sfpserver.submissions.task_types import TaskType
from tests.api.conftest import Personas, make_persona
from tests.conftest import wait_until

PATH = "/sfp/api/tasks"
UNCOMPARED = {"date", "server", "content-length"}  # differ between any two answers
SINGLE = {"type": "test.single", "data": {"n": 1}, "metadata": {"team": "a"}, "priority": "high"}
BAD_DEMO = {"type": "demo", "data": {"repository": "not a repository!"}}  # refused by its type's input model
UNKNOWN_TOKEN = "sfp_000000000000_" + "x" * 43
Headers = dict[str, str | None]


# --- Requests ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    status: int
    headers: list[tuple[str, str]]  # names in lower case (Django sends `Allow`, the fast path `allow`: the same)
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def header(self, name: str) -> str | None:
        return next((value for key, value in self.headers if key == name), None)

    def comparable_headers(self) -> list[tuple[str, str]]:
        return sorted((name, value) for name, value in self.headers if name not in UNCOMPARED)

    def comparable(self) -> tuple[int, list[tuple[str, str]], bytes]:
        return self.status, self.comparable_headers(), self.body

    def without_id(self) -> tuple[int, list[tuple[str, str]], bytes]:
        """As comparable, the operation id of a 201's body left out."""
        return self.status, self.comparable_headers(), self.body.replace(self.json()["operationId"].encode(), b"ID")


async def post(
    app: Any,
    body: Any,
    secret: str | None,
    headers: Headers | None = None,
    *,
    query: str = "",
    chunk: int | None = None,
    scheme: str = "http",
) -> Reply:
    """One POST as an HTTP server hands it over: Host, a JSON content type, the bearer token and Content-Length
    (`headers` replace these, None drops one), the body in one message or in pieces of `chunk` bytes."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    sent = {
        "host": "testserver",
        "content-type": "application/json",
        "content-length": str(len(raw)),
        "authorization": f"Bearer {secret}" if secret is not None else None,
        **(headers or {}),
    }
    size = chunk or max(len(raw), 1)
    pieces = [raw[i : i + size] for i in range(0, len(raw), size)] or [b""]
    messages = [{"type": "http.request", "body": piece, "more_body": True} for piece in pieces]
    messages[-1]["more_body"] = False
    never = asyncio.Event()  # the client stays connected until it has its answer
    answer: dict[str, Any] = {"body": b""}

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop(0)
        await never.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            answer["status"] = message["status"]
            answer["headers"] = [(k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in message["headers"]]
        else:
            answer["body"] += message.get("body", b"")

    given = [(name, value) for name, value in sent.items() if value is not None]
    await app(scope(given, query, scheme), receive, send)
    return Reply(answer["status"], answer["headers"], answer["body"])


def scope(headers: Sequence[tuple[str, str]], query: str, scheme: str) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": scheme,
        "path": PATH,
        "raw_path": PATH.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(name.encode("latin-1"), value.encode("latin-1")) for name, value in headers],
        "client": ("127.0.0.1", 40000),
        "server": ("testserver", 443 if scheme == "https" else 80),
    }


def app_answer(body: Any, secret: str | None, **options: Any) -> Reply:
    """The answer of the API's ASGI app: the fast path's, or Django's when the fast path leaves the request to it."""
    return asyncio.run(post(application, body, secret, **options))


def django_answer(body: Any, secret: str | None, **options: Any) -> Reply:
    """The answer of Django's handler alone to the same request."""
    return asyncio.run(post(django_asgi_app, body, secret, **options))


async def together(app: Any, requests: Sequence[tuple[Any, str | None, Headers]]) -> list[Reply]:
    return list(await asyncio.gather(*(post(app, body, secret, headers) for body, secret, headers in requests)))


@contextmanager
def answerers() -> Iterator[list[Any]]:
    """Who served requests meanwhile, in order: FastSubmit (one batch on a lane) or LanedASGIHandler (Django)."""
    senders: list[Any] = []

    def started(sender: Any, **kwargs: Any) -> None:
        senders.append(sender)

    request_started.connect(started, weak=False)
    try:
        yield senders
    finally:
        request_started.disconnect(started)


@pytest.fixture
def batches(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The size of each batch the fast path serves during the test (the real `serve`, watched)."""
    sizes: list[int] = []
    serve = fast_submit.serve

    def watched(batch: list[Any]) -> Any:
        sizes.append(len(batch))
        return serve(batch)

    monkeypatch.setattr(fast_submit, "serve", watched)
    return sizes


@pytest.fixture
def fresh_counters() -> Iterator[None]:
    """Token ids restart with every test database; the counters of an earlier run must not count here."""
    caches["throttle"].clear()
    yield
    caches["throttle"].clear()


@pytest.fixture
def broker_client() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(settings.REDIS_URL)
    yield client
    client.close()


def revoked_token() -> str:
    revoked = make_persona("revoked-ci", "application")
    tokens.revoke(revoked.token)
    return revoked.secret


# --- What was recorded -------------------------------------------------------------------------------------------


def recorded(operation_id: str) -> dict[str, Any]:
    """What a trigger recorded, but ids, times and states (workers of other test modules may run it meanwhile)."""
    task = SubmittedTask.objects.get(id=operation_id)
    run = WorkflowRun.objects.get(id=operation_id)
    return {
        "task": (task.type, task.workflow_name, task.kind, task.metadata, task.priority, task.options, task.data),
        "task's run": task.run_id == run.id,
        "created_by": task.created_by_id,
        "creator": RunCreator.objects.get(run_id=run.id).token_id,
        "run": (run.workflow_name, run.input, run.additional_metadata, run.priority, run.gated),
        "steps": sorted(
            (s.name, s.action, s.kind, s.queue, s.priority, s.parents, s.args, s.gated)
            for s in StepRun.objects.filter(run_id=run.id)
        ),
    }


def trigger_rows() -> dict[str, int]:
    """The rows of the tables a trigger writes, counted (workers of other test modules may write others meanwhile)."""
    return {
        model.__name__: model.objects.count()
        for model in (WorkflowRun, StepRun, SubmittedTask, RunCreator, ScheduledRun)
    }


def written_by(token: ApiToken) -> tuple[int, int]:
    """The tasks and the run creators recorded for this token."""
    return SubmittedTask.objects.filter(created_by=token).count(), RunCreator.objects.filter(token=token).count()


def published(step: StepRun, client: redis.Redis) -> bool:
    """Its message is on the broker (or a worker of another test module has claimed it already)."""
    if StepRun.objects.get(id=step.id).status != StepStatus.QUEUED:
        return True
    for message in client.lrange(broker.list_key(step.queue, broker.broker_priority(step.priority)), 0, -1):
        args, _, _ = json.loads(base64.b64decode(json.loads(message)["body"]))
        if args == [str(step.id), step.attempt]:
            return True
    return False


# --- 1. The same answer and the same rows as Django's --------------------------------------------------------------


@pytest.mark.parametrize(("scheme", "accept"), [("http", None), ("https", "application/json"), ("http", "*/*")])
def test_a_plain_trigger_is_answered_by_the_fast_path_as_django_answers_it(
    live_personas: Personas, scheme: str, accept: str | None
) -> None:
    secret, headers = live_personas.app.secret, {"accept": accept}
    with answerers() as served:
        quick = app_answer(SINGLE, secret, headers=headers, scheme=scheme)
    assert served == [FastSubmit]  # a batch on a lane, not Django
    slow = django_answer(SINGLE, secret, headers=headers, scheme=scheme)
    assert quick.without_id() == slow.without_id()
    assert (quick.status, set(quick.json()), quick.json()["type"]) == (201, {"operationId", "type"}, "test.single")
    assert quick.header("content-length") == str(len(quick.body))
    assert UUID(quick.json()["operationId"]) != UUID(slow.json()["operationId"])


def test_a_fast_trigger_records_what_django_records(live_personas: Personas) -> None:
    member = live_personas.member
    quick = app_answer(SINGLE, member.secret).json()["operationId"]
    slow = django_answer(SINGLE, member.secret).json()["operationId"]
    assert recorded(quick) == recorded(slow)
    assert recorded(quick) == {
        "task": ("test.single", "t.single", TaskKind.IMMEDIATE, {"team": "a"}, 3, {}, None),
        "task's run": True,
        "created_by": member.token.id,
        "creator": member.token.id,
        "run": ("t.single", {"n": 1}, {"team": "a"}, 3, False),
        "steps": [("only", "t:echo", "TASK", "standard", 3, [], {}, False)],
    }


def test_a_fast_trigger_of_a_dag_records_every_step_as_django_does(live_personas: Personas) -> None:
    body = {"type": "test.dag", "data": {}}
    quick = app_answer(body, live_personas.owner.secret).json()["operationId"]
    slow = django_answer(body, live_personas.owner.secret).json()["operationId"]
    assert recorded(quick) == recorded(slow)
    assert [(step[0], step[5]) for step in recorded(quick)["steps"]] == [
        ("a", []),
        ("b", ["a"]),
        ("c", ["a"]),
        ("d", ["b", "c"]),
    ]
    assert SubmittedTask.objects.get(id=quick).priority is None  # none was sent


# --- 2. Everything else: Django's own answer -----------------------------------------------------------------------


REFUSED = [
    pytest.param({"type": "test.single", "data": {}, "colour": "red"}, {}, id="unknown-field"),
    pytest.param({"type": "nope", "data": {}}, {}, id="unknown-type"),
    pytest.param(b'{"type": "test.single",', {}, id="malformed-json"),
    pytest.param({"type": "test.single", "data": [1]}, {}, id="data-not-an-object"),
    pytest.param({"type": "test.single", "data": {"x": "a\u0000b"}}, {}, id="nul-in-data"),
    pytest.param(b'{"type": "test.single", "data": {"x": NaN}}', {}, id="nan-in-data"),
    pytest.param({"type": "test.single", "data": {}, "priority": "urgent"}, {}, id="unknown-priority"),
    pytest.param(BAD_DEMO, {}, id="data-its-input-model-refuses"),  # checked on a lane, then handed over
    pytest.param(SINGLE, {"authorization": f"Bearer {UNKNOWN_TOKEN}"}, id="unknown-token"),  # the same
    pytest.param(SINGLE, {"authorization": "Bearer garbage"}, id="malformed-token"),
    pytest.param(SINGLE, {"authorization": "Token abc"}, id="another-scheme"),
    pytest.param(SINGLE, {"authorization": None}, id="no-authorization"),
    pytest.param(SINGLE, {"content-type": "text/plain"}, id="not-json"),
    pytest.param(SINGLE, {"content-type": None}, id="no-content-type"),
    pytest.param(SINGLE, {"accept": "text/html"}, id="unacceptable-accept"),
    pytest.param(SINGLE, {"host": "evil.example"}, id="host-not-allowed"),
]


@pytest.mark.parametrize(("body", "headers"), REFUSED)
def test_a_refused_trigger_gets_djangos_own_answer_and_nothing_is_written(
    live_personas: Personas, body: Any, headers: Headers
) -> None:
    secret = live_personas.app.secret
    before = trigger_rows()
    with answerers() as served:
        quick = app_answer(body, secret, headers=headers)
    assert served[-1] is LanedASGIHandler and served.count(LanedASGIHandler) == 1  # answered by Django, once
    slow = django_answer(body, secret, headers=headers)
    assert quick.status in (400, 401, 406, 415)
    assert quick.comparable() == slow.comparable()
    assert trigger_rows() == before


def test_a_revoked_token_gets_djangos_401_and_nothing_is_written(live_db: None) -> None:
    secret = revoked_token()
    before = trigger_rows()
    quick = app_answer(SINGLE, secret)
    assert (quick.status, quick.json()) == (401, {"error": "invalid_token", "detail": "the token has been revoked"})
    assert quick.comparable() == django_answer(SINGLE, secret).comparable()
    assert trigger_rows() == before


def test_a_token_whose_role_may_not_submit_gets_djangos_403(live_db: None, monkeypatch: pytest.MonkeyPatch) -> None:
    # Every role may submit today: a member loses the capability for this test (both paths read the one table).
    monkeypatch.setitem(permissions.GRANTS, Role.MEMBER, permissions.GRANTS[Role.MEMBER] - {Capability.OPERATE_RUNS})
    persona = make_persona("may-not-submit", Role.MEMBER)
    before = trigger_rows()
    quick = app_answer(SINGLE, persona.secret)
    assert quick.status == 403
    assert quick.comparable() == django_answer(SINGLE, persona.secret).comparable()
    assert trigger_rows() == before


def test_a_body_over_the_limit_gets_djangos_413_however_it_arrives(live_personas: Personas, settings: Any) -> None:
    settings.API_MAX_BODY_BYTES = 2048
    body = {"type": "test.single", "data": {"blob": "x" * 4000}}
    size = len(json.dumps(body))
    before = trigger_rows()
    with answerers() as served:
        quick = app_answer(body, live_personas.app.secret, chunk=1000)  # what was read is replayed to Django
    assert served == [LanedASGIHandler]
    assert (quick.status, quick.json()) == (
        413,
        {"error": "payload_too_large", "detail": {"body": f"the request body is {size} bytes; the limit is 2048"}},
    )
    assert quick.comparable() == django_answer(body, live_personas.app.secret).comparable()
    assert trigger_rows() == before


def test_a_body_at_the_limit_is_still_plain(live_personas: Personas, settings: Any) -> None:
    settings.API_MAX_BODY_BYTES = 2048
    body = {"type": "test.single", "data": {"blob": ""}}
    body["data"]["blob"] = "x" * (2048 - len(json.dumps(body)))
    with answerers() as served:
        quick = app_answer(body, live_personas.app.secret, chunk=700)
    assert (served, quick.status) == ([FastSubmit], 201)


def test_a_trigger_with_a_query_string_goes_to_django_which_records_it(live_personas: Personas) -> None:
    with answerers() as served:
        quick = app_answer(SINGLE, live_personas.app.secret, query="debug=1")
    assert served == [LanedASGIHandler]
    slow = django_answer(SINGLE, live_personas.app.secret, query="debug=1")
    assert quick.without_id() == slow.without_id()
    assert recorded(quick.json()["operationId"]) == recorded(slow.json()["operationId"])


def test_a_scheduled_task_goes_to_django_which_schedules_it(live_personas: Personas) -> None:
    when = (timezone.now() + timedelta(hours=1)).isoformat()
    body = {"type": "test.single", "data": {}, "scheduleType": "scheduled", "scheduledFor": when}
    with answerers() as served:
        quick = app_answer(body, live_personas.app.secret)
    assert served == [LanedASGIHandler]
    assert quick.without_id() == django_answer(body, live_personas.app.secret).without_id()
    assert quick.status == 201
    task = SubmittedTask.objects.get(id=quick.json()["operationId"])
    assert (task.kind, task.created_by_id, task.run_id) == (TaskKind.SCHEDULED, live_personas.app.token.id, None)
    assert task.scheduled_run_id is not None


def test_a_trigger_whose_run_is_not_plain_is_checked_on_a_lane_then_recorded_by_django(
    live_personas: Personas, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(task_types.TASK_TYPES, "test.gated", TaskType("t.gated_backoff"))  # a concurrency gate
    body = {"type": "test.gated", "data": {"group": "g"}}
    with answerers() as served:
        quick = app_answer(body, live_personas.app.secret)
    assert served == [FastSubmit, LanedASGIHandler]
    assert quick.without_id() == django_answer(body, live_personas.app.secret).without_id()
    assert quick.status == 201
    assert recorded(quick.json()["operationId"])["run"] == ("t.gated_backoff", {"group": "g"}, {}, 1, True)


NON_ASCII_SPACES = [
    pytest.param("Bearer {}\xa0", id="nbsp-after"),
    pytest.param("Bearer \xa0{}", id="nbsp-before-the-token"),
    pytest.param("\x85Bearer {}", id="nel-before-the-scheme"),
]


@pytest.mark.parametrize("authorization", NON_ASCII_SPACES)
def test_a_token_with_a_non_ascii_space_around_it_gets_djangos_401(live_personas: Personas, authorization: str) -> None:
    headers: Headers = {"authorization": authorization.format(live_personas.app.secret)}
    slow = django_answer(SINGLE, None, headers=headers)
    assert (slow.status, slow.json()["error"]) == (401, "invalid_token")
    before = trigger_rows()
    quick = app_answer(SINGLE, None, headers=headers)
    assert quick.comparable() == slow.comparable()
    assert trigger_rows() == before


def test_a_body_sent_without_content_length_gets_djangos_answer(live_personas: Personas) -> None:
    headers: Headers = {"content-length": None, "transfer-encoding": "chunked"}
    slow = django_answer(SINGLE, live_personas.app.secret, headers=headers)
    assert (slow.status, slow.json()) == (
        400,
        {"error": "invalid_input", "detail": {"type": "This field is required.", "data": "This field is required."}},
    )
    before = trigger_rows()
    quick = app_answer(SINGLE, live_personas.app.secret, headers=headers)
    assert quick.comparable() == slow.comparable()
    assert trigger_rows() == before


# --- 3. Batches ----------------------------------------------------------------------------------------------------


def test_thirty_concurrent_triggers_are_recorded_in_a_few_batches_and_their_first_steps_published(
    live_personas: Personas, batches: list[int], broker_client: redis.Redis
) -> None:
    app = live_personas.app
    requests: list[tuple[Any, str | None, Headers]] = [
        ({"type": "test.single", "data": {"i": i}}, app.secret, {}) for i in range(30)
    ]
    with answerers() as served:
        replies = asyncio.run(together(application, requests))
    assert [reply.status for reply in replies] == [201] * 30
    ids = [reply.json()["operationId"] for reply in replies]
    assert LanedASGIHandler not in served
    assert sum(batches) == 30 and len(batches) <= 3  # the first on each lane alone, then every waiting one at once
    runs = WorkflowRun.objects.filter(id__in=ids)
    assert {str(run.id): run.input["i"] for run in runs} == {op: i for i, op in enumerate(ids)}  # each its own run
    assert SubmittedTask.objects.filter(id__in=ids, created_by=app.token, kind=TaskKind.IMMEDIATE).count() == 30
    assert RunCreator.objects.filter(run_id__in=ids, token=app.token).count() == 30
    firsts = list(StepRun.objects.filter(run_id__in=ids, name="only"))
    assert len(firsts) == 30
    wait_until(lambda: all(published(step, broker_client) for step in firsts), timeout=5, what="30 messages")


def test_each_trigger_of_a_mixed_batch_gets_its_own_answer(live_personas: Personas, batches: list[int]) -> None:
    app, member = live_personas.app, live_personas.member
    unknown_field = {"type": "test.single", "data": {}, "colour": "red"}
    requests: list[tuple[Any, str | None, Headers]] = [
        ({"type": "test.single", "data": {"i": 0}}, app.secret, {}),  # the first two take a lane each, alone
        ({"type": "test.single", "data": {"i": 1}}, app.secret, {}),
        (SINGLE, UNKNOWN_TOKEN, {}),
        ({"type": "test.single", "data": {"i": 2}}, app.secret, {}),
        (SINGLE, revoked_token(), {}),
        (BAD_DEMO, member.secret, {}),
        ({"type": "test.single", "data": {"i": 3}}, member.secret, {}),
        (unknown_field, member.secret, {}),  # never in a batch: Django at once
        ({"type": "test.single", "data": {"i": 4}}, app.secret, {}),
    ]
    before = written_by(app.token), written_by(member.token)
    replies = asyncio.run(together(application, requests))
    assert [reply.status for reply in replies] == [201, 201, 401, 201, 401, 400, 201, 400, 201]
    assert sum(batches) == 8 and max(batches) >= 6  # the triggers that came while the lanes were busy, together
    for (body, secret, headers), reply in zip(requests, replies, strict=True):
        if reply.status != 201:
            assert reply.comparable() == django_answer(body, secret, headers=headers).comparable()
    for (body, _, _), reply in zip(requests, replies, strict=True):
        if reply.status == 201:  # each answer names its own trigger's run
            assert WorkflowRun.objects.get(id=reply.json()["operationId"]).input == body["data"]
    assert written_by(app.token) == (before[0][0] + 4, before[0][1] + 4)
    assert written_by(member.token) == (before[1][0] + 1, before[1][1] + 1)  # its refused ones wrote nothing


# --- 4. The throttle ---------------------------------------------------------------------------------------------


THROTTLED = {
    "error": "throttled",
    "detail": "this token sent more than 3 write requests this hour (API_THROTTLE_WRITE_RATE); "
    "retry after the number of seconds in the Retry-After header",
}


def test_the_fast_path_throttles_as_django_does_counting_each_request_once(
    live_personas: Personas, settings: Any, fresh_counters: None
) -> None:
    settings.API_THROTTLE_WRITE_RATE = "3/hour"
    app = live_personas.app
    assert app_answer(SINGLE, app.secret).status == 201  # 1: counted by the fast path
    assert django_answer(SINGLE, app.secret).status == 201  # 2: counted by Django
    with answerers() as served:
        handed_over = app_answer(BAD_DEMO, app.secret)  # 3: checked on a lane, counted by Django alone
    assert (served, handed_over.status) == ([FastSubmit, LanedASGIHandler], 400)
    before = trigger_rows()
    with answerers() as served:
        quick = app_answer(SINGLE, app.secret)  # 4: over the rate
    slow = django_answer(SINGLE, app.secret)
    assert (served, quick.status, quick.json()) == ([FastSubmit], 429, THROTTLED)
    assert (slow.status, slow.body) == (quick.status, quick.body)
    waits = int(quick.header("retry-after") or 0), int(slow.header("retry-after") or 0)
    assert 0 < waits[0] <= 3600 and abs(waits[0] - waits[1]) <= 1
    assert [h for h in quick.comparable_headers() if h[0] != "retry-after"] == [
        h for h in slow.comparable_headers() if h[0] != "retry-after"
    ]
    assert trigger_rows() == before
    assert app_answer(SINGLE, live_personas.member.secret).status == 201  # another token's count


def test_concurrent_triggers_of_one_token_are_refused_past_its_rate_and_no_sooner(
    live_personas: Personas, settings: Any, fresh_counters: None
) -> None:
    settings.API_THROTTLE_WRITE_RATE = "3/hour"
    replies = asyncio.run(together(application, [(SINGLE, live_personas.app.secret, {})] * 5))
    assert sorted(reply.status for reply in replies) == [201, 201, 201, 429, 429]
    assert all(reply.json() == THROTTLED and reply.header("retry-after") for reply in replies if reply.status == 429)
    assert written_by(live_personas.app.token) == (3, 3)


# --- 5. Which bodies are plain (no database) ---------------------------------------------------------------------


PLAIN = [
    b'{"type": "test.single", "data": {}}',
    b'{"type": "test.single", "data": {}, "metadata": {}}',
    b'{"type": "test.single", "data": {"a": {"b": [1, {"c": null}], "d": true}}, "metadata": {"team": "a", "n": 2}}',
    b'{"type": "test.single", "data": {}, "priority": "low"}',
    b'{"type": "test.single", "data": {}, "priority": "medium"}',
    b'{"type": "test.single", "data": {}, "priority": "high", "scheduleType": "immediate", "metadata": {"k": "v"}}',
    b'{"type": "test.single", "data": {"n": 100000000000000000000000000000, "f": 1.5e308, "s": "\\u00e9\\u2713"}}',
    '{"type": "test.single", "data": {"emoji": "😀", "key with spaces": ""}}'.encode(),
    b'{"type": "demo", "data": {"repository": "x"}}',
    b'{"type": "demo", "data": {"not": "in its input model"}}',  # the service refuses it, on the lane
    b'{"type": "nope", "type": "test.single", "data": {}}',  # the last one counts, for both
    b'  {"type": "test.single", "data": {}}\n',
    ('{"type": "test.single", "data": ' + '{"a": ' * 50 + "1" + "}" * 50 + "}").encode(),
]
NOT_PLAIN = [
    b'{"type": "test.single", "data": {}, "priority": null}',
    b'{"type": "test.single", "data": {}, "priority": ["low"]}',
    b'{"type": "test.single", "data": {}, "priority": "LOW"}',
    b'{"type": "test.single", "data": {}, "priority": "urgent"}',
    b'{"type": "test.single", "data": {}, "priority": 1}',
    b'{"type": "test.single", "data": {}, "priority": true}',
    b'{"type": "test.single", "data": {}, "metadata": null}',
    b'{"type": "test.single", "data": {}, "metadata": []}',
    b'{"type": "test.single", "data": {}, "metadata": "x"}',
    b'{"type": "test.single", "data": {}, "scheduleType": "scheduled"}',
    b'{"type": "test.single", "data": {}, "scheduleType": "recurring"}',
    b'{"type": "test.single", "data": {}, "scheduleType": null}',
    b'{"type": "test.single", "data": {}, "scheduleType": "IMMEDIATE"}',
    b'{"type": "test.single", "data": {}, "scheduledFor": "2999-01-01T00:00:00Z"}',
    b'{"type": "test.single", "data": {}, "lockDuration": 10}',
    b'{"type": "test.single", "data": {}, "retryConfig": {}}',
    b'{"type": "test.single", "data": {}, "continueOnFailure": []}',
    b'{"type": "test.single", "data": {}, "colour": "red"}',
    b'{"type": "test.single", "data": {"x": NaN}}',
    b'{"type": "test.single", "data": {"x": Infinity}}',
    b'{"type": "test.single", "data": {"x": 1e400}}',
    b'{"type": "test.single", "data": {}, "metadata": {"x": -Infinity}}',
    b'{"type": "test.single", "data": {"x": "a\\u0000b"}}',
    b'{"type": "test.single", "data": {"a\\u0000": 1}}',
    b'{"type": "test.single", "data": {}, "metadata": {"x": "\\ud800"}}',
    b'{"type": "test.single\\u0000", "data": {}}',
    b'{"type": "test.single", "data": null}',
    b'{"type": "test.single", "data": []}',
    b'{"type": "test.single", "data": "{}"}',
    b'{"type": "test.single"}',
    b'{"data": {}}',
    b'{"type": null, "data": {}}',
    b'{"type": 1, "data": {}}',
    b'{"type": ["test.single"], "data": {}}',
    b'{"type": "", "data": {}}',
    b'{"type": " test.single", "data": {}}',
    b'{"type": "nope", "data": {}}',
    b'[{"type": "test.single", "data": {}}]',
    b'"test.single"',
    b"1",
    b"null",
    b"",
    b"   ",
    b"\xff\xfe",
    b'\xef\xbb\xbf{"type": "test.single", "data": {}}',
    b'{"type": "test.single", "data": {}',
    b"[" * 100_000,
]


def shown(body: bytes) -> str:
    return body[:70].decode("utf-8", "replace")


@pytest.mark.parametrize("body", PLAIN + NOT_PLAIN, ids=[shown(body) for body in PLAIN + NOT_PLAIN])
def test_a_plain_submission_is_what_the_serializer_makes_of_the_body(body: bytes) -> None:
    found = plain_submission(body)
    if found is None:
        return  # Django answers it
    checked = SubmitTaskRequest(data=parsed_body(body))
    assert checked.is_valid(), checked.errors
    assert checked.submission() == found


def test_the_plain_bodies_are_plain_and_the_others_go_to_django() -> None:
    assert [shown(body) for body in PLAIN if plain_submission(body) is None] == []
    assert [shown(body) for body in NOT_PLAIN if plain_submission(body) is not None] == []
    assert plain_submission(PLAIN[5]) == Submission(
        type="test.single", data={}, metadata={"k": "v"}, priority=3, scheduled_for=None, cron=None
    )


# --- 6. A database that refuses the recording ----------------------------------------------------------------------


@contextmanager
def postgres_refusing_tasks() -> Iterator[None]:
    """Inserting a submitted task fails as Postgres at its connection limit does (SQLSTATE 53300, an
    OperationalError), in the round trip that inserts the runs first: all of it must roll back."""
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE FUNCTION fast_submit_test_refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "RAISE EXCEPTION 'sorry, too many clients already' USING ERRCODE = 'too_many_connections'; END $$"
        )
        cursor.execute(
            "CREATE TRIGGER fast_submit_test_refuse BEFORE INSERT ON submissions_submittedtask "
            "FOR EACH STATEMENT EXECUTE FUNCTION fast_submit_test_refuse()"
        )
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TRIGGER fast_submit_test_refuse ON submissions_submittedtask")
            cursor.execute("DROP FUNCTION fast_submit_test_refuse()")


def test_a_recording_the_database_refuses_is_answered_503_as_django_answers_it(live_personas: Personas) -> None:
    app = live_personas.app
    before = trigger_rows()
    with postgres_refusing_tasks(), answerers() as served:
        quick = app_answer(SINGLE, app.secret)
        slow = django_answer(SINGLE, app.secret)
    assert served == [FastSubmit, LanedASGIHandler]  # the fast path answered it: nothing was handed to Django
    assert (quick.status, quick.json(), quick.header("retry-after")) == (
        503,
        {"error": "unavailable", "detail": "the database is unavailable; retry in a few seconds"},
        "5",
    )
    assert quick.comparable() == slow.comparable()
    assert trigger_rows() == before  # the runs of the refused round trip were rolled back with it
    assert app_answer(SINGLE, app.secret).status == 201  # and the lanes' connections serve the next one
