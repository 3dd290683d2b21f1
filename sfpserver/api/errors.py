"""The one place that turns exceptions into HTTP answers, all with the body `{"error": CODE, "detail": ...}`.

`detail` is an object mapping the field at fault (dotted for nested fields, `body` for the request body as a
whole) to what is wrong with it for 400s, and a sentence otherwise.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, status
from rest_framework.response import Response

from sfpserver.accounts.exceptions import TokenError
from sfpserver.api.parsers import PayloadTooLarge, UnstorableInput
from sfpserver.engine.services import (
    IdempotencyCollision,
    InvalidStateError,
    InvalidWorkflowError,
    RunNotFoundError,
    UnknownWorkflowError,
)
from sfpserver.hatchet.event_errors import (
    DeliveryMalformed,
    DeliveryRefused,
    FilterNotFound,
    InvalidRoutingInput,
    WebhookExists,
    WebhookNotFound,
)
from sfpserver.submissions.exceptions import (
    InvalidSubmissionError,
    QuotaExceededError,
    TaskNotFoundError,
    TaskStateError,
)
from sfpserver.vault.exceptions import CredentialMissing, CredentialUnreadable, InvalidCredential, LeaseRefused

NON_FIELD_KEYS = {"non_field_errors", "__all__"}
BEARER_CHALLENGE = 'Bearer realm="sfpserver"'


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    mapped = to_error(exc)
    if mapped is None:
        return None  # an unexpected error: Django logs it and answers 500
    status_code, code, detail = mapped
    response = Response({"error": code, "detail": detail}, status=status_code)
    if status_code == status.HTTP_401_UNAUTHORIZED:
        response["WWW-Authenticate"] = BEARER_CHALLENGE
    wait = getattr(exc, "wait", None)
    if isinstance(exc, exceptions.Throttled) and wait is not None:
        response["Retry-After"] = str(int(wait))
    if status_code == status.HTTP_503_SERVICE_UNAVAILABLE:
        response["Retry-After"] = "5"
    return response


def to_error(exc: Exception) -> tuple[int, str, Any] | None:
    for types, mapper in _MAPPERS:
        if isinstance(exc, types):
            return mapper(exc)
    return None


def _database_down(exc: Any) -> tuple[int, str, Any]:
    """Postgres is restarting or unreachable: the request changed nothing; the client may simply retry."""
    return 503, "unavailable", "the database is unavailable; retry in a few seconds"


def _domain_field_error(exc: Any) -> tuple[int, str, Any]:
    return 400, "invalid_input", getattr(exc, "problems", None) or {exc.field: exc.problem}


def _unknown_workflow(exc: Any) -> tuple[int, str, Any]:
    return 400, "unknown_workflow", {exc.field: exc.problem}


def _collision(exc: Any) -> tuple[int, str, Any]:
    """A trigger whose idempotency key another run holds started nothing: that run answers it."""
    return 409, "idempotency_collision", {"existing_run_id": str(next(iter(exc.existing.values())))}


def _validation(exc: Any) -> tuple[int, str, Any]:
    return 400, "invalid_input", flatten(exc.detail)


def _simple(status_code: int, code: str) -> Any:
    return lambda exc: (status_code, code, str(exc.detail) if isinstance(exc, exceptions.APIException) else str(exc))


def _parse_error(exc: Any) -> tuple[int, str, Any]:
    return 400, "malformed_json", {"body": str(exc.detail)}


def _too_large(exc: Any) -> tuple[int, str, Any]:
    return 413, "payload_too_large", {"body": str(exc.detail)}


def _unsupported(exc: Any) -> tuple[int, str, Any]:
    return 415, "unsupported_media_type", {"Content-Type": f"{exc.detail} Send application/json."}


_MAPPERS: list[tuple[Any, Any]] = [
    ((OperationalError, InterfaceError), _database_down),
    (UnknownWorkflowError, _unknown_workflow),
    ((InvalidWorkflowError, InvalidSubmissionError, InvalidCredential, UnstorableInput), _domain_field_error),
    (InvalidRoutingInput, _domain_field_error),
    (DeliveryMalformed, lambda exc: (400, "invalid_delivery", {exc.field: exc.problem})),
    (DeliveryRefused, _simple(403, "webhook_auth_failed")),
    ((WebhookNotFound, FilterNotFound), _simple(404, "not_found")),
    (WebhookExists, _simple(409, "already_exists")),
    (CredentialMissing, _simple(404, "credential_missing")),
    (CredentialUnreadable, _simple(409, "credential_unreadable")),
    (LeaseRefused, _simple(403, "lease_refused")),
    ((RunNotFoundError, TaskNotFoundError, Http404), _simple(404, "not_found")),
    ((InvalidStateError, TaskStateError), _simple(409, "invalid_state")),
    (IdempotencyCollision, _collision),
    (TokenError, _simple(401, "invalid_token")),
    (exceptions.ValidationError, _validation),
    (PayloadTooLarge, _too_large),
    (exceptions.ParseError, _parse_error),
    (exceptions.NotAuthenticated, _simple(401, "not_authenticated")),
    (exceptions.AuthenticationFailed, _simple(401, "invalid_token")),
    ((exceptions.PermissionDenied, DjangoPermissionDenied), _simple(403, "permission_denied")),
    (exceptions.NotFound, _simple(404, "not_found")),
    (exceptions.MethodNotAllowed, _simple(405, "method_not_allowed")),
    (exceptions.NotAcceptable, _simple(406, "not_acceptable")),
    (exceptions.UnsupportedMediaType, _unsupported),
    (exceptions.Throttled, _simple(429, "throttled")),
    (QuotaExceededError, _simple(429, "quota_exceeded")),
]


def flatten(detail: Any, prefix: str = "") -> dict[str, str]:
    """DRF's nested error detail as {"field.sub.0": "message; message"}; errors of no field belong to `body`."""
    if isinstance(detail, dict):
        flat: dict[str, str] = {}
        for key, value in detail.items():
            name = prefix if key in NON_FIELD_KEYS else (f"{prefix}.{key}" if prefix else str(key))
            flat.update(flatten(value, name))
        return flat
    if isinstance(detail, list) and all(isinstance(item, str) for item in detail):
        return {prefix or "body": "; ".join(str(item) for item in detail)}
    if isinstance(detail, list):
        flat = {}
        for index, item in enumerate(detail):
            flat.update(flatten(item, f"{prefix}.{index}" if prefix else str(index)))
        return flat
    return {prefix or "body": str(detail)}


@csrf_exempt
def not_found_view(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
    """Any other path under /sfp/api/ (or an id that is not a UUID): the same 404 body as the API's."""
    return JsonResponse({"error": "not_found", "detail": f"no such resource: {request.path}"}, status=404)
