"""`POST /sfp/api/tasks` answered without Django's request cycle, several triggers at a time: the API's hot path.

Through Django and DRF one trigger cost ~5 ms of CPU (request object, middleware, negotiation, serializer, ORM
statements and their transaction), so two API processes answered ~200 a second and 50 clients waited ~250 ms
each. This ASGI app answers the plain case itself:

- `POST /sfp/api/tasks`, no query string, an allowed Host, one `Authorization: Bearer <token>`, a JSON body
  within API_MAX_BODY_BYTES that DRF's parser would take, and at most `Accept: application/json` or `*/*`;
- an immediate task: only `type` (a known type), `data` and `metadata` (objects), `priority` and
  `scheduleType: "immediate"` — a body `SubmitTaskRequest` always accepts (tests/api/test_fast_submit.py);
- a token whose role may submit, a submission the service and the engine accept, a run that is plain (no gate,
  condition or idempotency key: engine `Prepared.plain`).

Anything else goes to Django unchanged, the body read so far replayed first: every refusal is Django's own
answer. Nothing is written or counted before that choice, so nothing is done twice: the checks above run first,
then the throttle counts the request (over the rate: the 429 DRF would answer, from api/errors.py), then it is
recorded (a failure then is answered as the view's would be, never handed to Django).

Triggers waiting together are served together, on one of the process's lanes (config/lanes.py): one token
query, one round trip of throttle counts, one round trip that records every task with its run
(submissions.record_immediate: one transaction), their first steps published after commit. A request puts its
trigger in the waiting line and waits for its answer; a server (at most SERVERS at once, started by the requests)
takes every waiting trigger (at most BATCH) to a free lane, and again while any waits. Answers carry the headers
Django's would (SecurityMiddleware, XFrameOptionsMiddleware and DRF's Allow, made by those classes once per
scheme).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.signals import request_finished, request_started
from django.http import HttpRequest, HttpResponse
from django.http.request import split_domain_port, validate_host
from django.middleware.clickjacking import XFrameOptionsMiddleware
from django.middleware.security import SecurityMiddleware
from rest_framework.renderers import JSONRenderer

from config.lanes import LanedASGIHandler
from sfpserver.accounts import tokens
from sfpserver.accounts.models import ApiToken
from sfpserver.accounts.permissions import Capability, can
from sfpserver.api import errors, throttling
from sfpserver.api.parsers import parsed_body
from sfpserver.api.serializers.tasks import PRIORITIES, submission_of
from sfpserver.api.views.tasks import TasksView
from sfpserver.submissions import services
from sfpserver.submissions.services import ImmediateTask, Submission
from sfpserver.submissions.task_types import task_type

logger = logging.getLogger(__name__)

PATH = "/sfp/api/tasks"
BATCH = 64  # triggers recorded in one round trip at most
SERVERS = 2  # batches in flight in a process at most: one is recorded while the next forms
_KEYS = frozenset({"type", "data", "metadata", "priority", "scheduleType"})
_ACCEPTED = frozenset({"*/*", "application/json"})

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()


@dataclass
class _Trigger:
    secret: str
    submission: Submission
    scheme: str
    answer: asyncio.Future[Answer | None] = field(init=False)


class FastSubmit:
    """ASGI app: plain triggers answered here (module docstring) on `lanes`, every other HTTP request by `django`."""

    def __init__(self, django: Any, lanes: LanedASGIHandler) -> None:
        self.django = django
        self.lanes = lanes
        self._loop: asyncio.AbstractEventLoop | None = None
        self._waiting: deque[_Trigger] = deque()  # touched on the event loop only
        self._servers: set[asyncio.Task[None]] = set()  # kept referenced while they run
        self._serving = 0  # servers started and not ended: counted here, not by their tasks' done callbacks (late)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not _mine(scope):
            return await self.django(scope, receive, send)
        read = await _read(receive, settings.API_MAX_BODY_BYTES)
        if read is None:
            return  # the client left before sending its body
        body, complete = read
        trigger = plain_trigger(scope, body) if complete else None
        answer = await self._answer(trigger) if trigger is not None else None
        if answer is None:
            return await self.django(scope, _replaying(body, complete, receive), send)
        await send({"type": "http.response.start", "status": answer.status, "headers": _encoded(answer)})
        await send({"type": "http.response.body", "body": answer.body})

    async def _answer(self, trigger: _Trigger) -> Answer | None:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # a new loop (a test's): what waited in the one before it ended with it
            self._loop, self._waiting, self._serving = loop, deque(), 0
        trigger.answer = loop.create_future()
        self._waiting.append(trigger)
        if self._serving < SERVERS:
            self._serving += 1
            server = asyncio.create_task(self._serve_waiting())
            self._servers.add(server)
            server.add_done_callback(self._servers.discard)
        return await trigger.answer

    async def _serve_waiting(self) -> None:
        """Serve the waiting triggers, BATCH at a time, each batch on a free lane, until none is left."""
        try:
            while self._waiting:
                await self._serve_batch()
        finally:
            self._serving -= 1  # no await between the last look at _waiting and this: no trigger is left behind

    async def _serve_batch(self) -> None:
        free = self.lanes.free_lanes()
        lane = await free.get()
        batch = [self._waiting.popleft() for _ in range(min(BATCH, len(self._waiting)))]
        try:
            answers = await asyncio.get_running_loop().run_in_executor(lane, serve, batch) if batch else []
        except Exception as exc:  # noqa: BLE001 - raised before anything was counted or written
            logger.warning("fast submit: %s; the batch goes through Django", type(exc).__name__)
            answers = [None] * len(batch)
        finally:
            free.put_nowait(lane)
        for trigger, answer in zip(batch, answers, strict=True):
            if not trigger.answer.done():
                trigger.answer.set_result(answer)


def _mine(scope: Scope) -> bool:
    return (
        scope["type"] == "http"
        and scope["method"] == "POST"
        and scope["path"] == PATH
        and not scope.get("query_string")
        and not scope.get("root_path")
    )


def plain_trigger(scope: Scope, body: bytes) -> _Trigger | None:
    """The trigger a request holds when it is the plain case (module docstring); None for anything else."""
    headers: dict[str, list[str]] = {}
    for name, value in scope["headers"]:
        headers.setdefault(name.decode("latin-1").lower(), []).append(value.decode("latin-1"))
    scheme = _scheme(scope, headers)
    if not _plain_headers(headers, scheme):
        return None
    credentials = headers["authorization"][0].encode("latin-1").split()  # as DRF reads it: ASCII whitespace only
    if len(credentials) != 2 or credentials[0].lower() != b"bearer":
        return None
    submission = plain_submission(body)
    return None if submission is None else _Trigger(credentials[1].decode("latin-1"), submission, scheme)


def plain_submission(body: bytes) -> Submission | None:
    """The immediate submission of a body that DRF's parser and `SubmitTaskRequest` accept as they are; None for
    any other body (those go to Django, which answers what is wrong with them)."""
    try:
        data = parsed_body(body)
    except Exception:  # noqa: BLE001 - any refusal of the parser: Django answers it
        return None
    if not isinstance(data, dict) or not data.keys() <= _KEYS or data.get("scheduleType", "immediate") != "immediate":
        return None
    name, payload, metadata = data.get("type"), data.get("data"), data.get("metadata", {})
    if not isinstance(name, str) or task_type(name) is None or not isinstance(payload, dict):
        return None
    priority = data.get("priority", "low")
    if not isinstance(metadata, dict) or not isinstance(priority, str) or priority not in PRIORITIES:
        return None
    return submission_of(data)


def _plain_headers(headers: Mapping[str, list[str]], scheme: str) -> bool:
    if any(len(headers.get(name, ())) != 1 for name in ("authorization", "content-type", "content-length")):
        return False  # a body without Content-Length (chunked) DRF does not read: Django answers it
    if headers["content-type"][0].split(";", 1)[0].strip().lower() != "application/json":
        return False
    accept = headers.get("accept", [])
    if len(accept) > 1 or (accept and accept[0].strip() not in _ACCEPTED):
        return False
    if settings.SECURE_SSL_REDIRECT and scheme != "https":
        return False  # Django redirects it
    return _allowed_host(headers)


def _allowed_host(headers: Mapping[str, list[str]]) -> bool:
    """Host is one that Django's `request.get_host()` accepts (else Django answers 400)."""
    if settings.USE_X_FORWARDED_HOST or len(headers.get("host", ())) != 1:
        return False
    domain, _ = split_domain_port(headers["host"][0])
    allowed = settings.ALLOWED_HOSTS or ([".localhost", "127.0.0.1", "[::1]"] if settings.DEBUG else [])
    return bool(domain) and validate_host(domain, allowed)


def _scheme(scope: Scope, headers: Mapping[str, list[str]]) -> str:
    """The scheme Django sees (`HttpRequest.scheme`): SECURE_PROXY_SSL_HEADER's when set and sent."""
    if settings.SECURE_PROXY_SSL_HEADER:
        name, secure = settings.SECURE_PROXY_SSL_HEADER
        sent = headers.get(name.removeprefix("HTTP_").replace("_", "-").lower())
        if sent:
            return "https" if sent[-1].split(",", 1)[0].strip() == secure else "http"
    return str(scope.get("scheme", "http"))


def serve(batch: list[_Trigger]) -> list[Answer | None]:
    """Run on a lane: each trigger's answer, or None for those Django must answer. Raises only before anything
    was counted or written (then Django answers every one)."""
    request_started.send(sender=FastSubmit)  # as Django's handler: connections past their age are closed
    try:
        return _serve(batch)
    finally:
        request_finished.send(sender=FastSubmit)


def _serve(batch: list[_Trigger]) -> list[Answer | None]:
    answers: list[Answer | None] = [None] * len(batch)
    accepted = _accepted(batch)
    recording: list[tuple[int, ImmediateTask, ApiToken]] = []
    for (index, task, token), refused in zip(accepted, _refusals(accepted), strict=True):
        if refused is None:
            recording.append((index, task, token))
        else:
            answers[index] = _error(refused, batch[index].scheme)
    if not recording:
        return answers
    try:
        recorded = services.record_immediate([(task, token) for _, task, token in recording])
    except Exception as exc:  # noqa: BLE001 - answered as the view's exception would be
        for index, _, _ in recording:
            answers[index] = _error(exc, batch[index].scheme)
        return answers
    for (index, _, _), row in zip(recording, recorded, strict=True):
        body = JSONRenderer().render({"operationId": str(row.id), "type": row.type})
        answers[index] = Answer(201, body, _django_headers(batch[index].scheme))
    return answers


def _accepted(batch: list[_Trigger]) -> list[tuple[int, ImmediateTask, ApiToken]]:
    """The triggers every check accepts (a valid token that may submit, a submission the service and the engine
    take, a plain run), by their index in `batch`; nothing is counted or written for them yet."""
    accepted = []
    found = tokens.authenticate_many([trigger.secret for trigger in batch])
    for index, (trigger, token) in enumerate(zip(batch, found, strict=True)):
        if not isinstance(token, ApiToken) or not can(token.role, Capability.OPERATE_RUNS):
            continue
        try:
            task = services.prepare_immediate(trigger.submission, services.check(trigger.submission))
        except Exception:  # noqa: BLE001 - any refusal: nothing was written, Django answers it
            continue
        if task.plain:
            accepted.append((index, task, token))
    return accepted


def _refusals(accepted: list[tuple[int, ImmediateTask, ApiToken]]) -> list[throttling.RateExceeded | None]:
    return throttling.refusals("write", [token.pk for _, _, token in accepted])


def _error(exc: Exception, scheme: str) -> Answer:
    """The answer of api/errors.py's exception handler; an exception it does not know is logged and answered 500."""
    response = errors.exception_handler(exc, {})
    if response is None:
        logger.error("fast submit: %s", type(exc).__name__, exc_info=exc)
        response_body = JSONRenderer().render({"error": "internal_error", "detail": "the request failed; see the logs"})
        return Answer(500, response_body, _django_headers(scheme))
    extra = tuple((name, str(value)) for name, value in response.items() if name.lower() != "content-type")
    return Answer(response.status_code, JSONRenderer().render(response.data), extra + _django_headers(scheme))


@functools.cache
def _django_headers(scheme: str) -> tuple[tuple[str, str], ...]:
    """What Django and DRF add to this view's JSON answers, made by their own classes: Allow (DRF), the
    security headers (SecurityMiddleware: HSTS on https when set) and X-Frame-Options."""
    probe = _Probe(scheme)
    response = HttpResponse(content_type="application/json")
    response["Allow"] = ", ".join(TasksView().allowed_methods)
    response = SecurityMiddleware(lambda request: response).process_response(probe, response)
    response = XFrameOptionsMiddleware(lambda request: response).process_response(probe, response)
    return tuple((name, str(value)) for name, value in response.items())


class _Probe(HttpRequest):
    """A request of `scheme` alone: what the header middleware reads of a request."""

    def __init__(self, scheme: str) -> None:
        super().__init__()
        self._probe_scheme = scheme

    def _get_scheme(self) -> str:
        return self._probe_scheme


def _encoded(answer: Answer) -> list[tuple[bytes, bytes]]:
    headers = [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in answer.headers]
    return [*headers, (b"content-length", str(len(answer.body)).encode())]


async def _read(receive: Receive, limit: int) -> tuple[bytes, bool] | None:
    """The body up to `limit` + 1 bytes and whether that is all of it (False: there is more); None when the
    client left."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks), size <= limit
        if size > limit:
            return b"".join(chunks), False


def _replaying(body: bytes, complete: bool, receive: Receive) -> Receive:
    """`receive` with what was read of the body given first."""
    pending = [{"type": "http.request", "body": body, "more_body": not complete}]

    async def replay() -> Message:
        return pending.pop() if pending else await receive()

    return replay
