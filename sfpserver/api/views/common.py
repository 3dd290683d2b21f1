"""What every API view shares: the caller's token, validated input, finding what it may see, pagination."""

from __future__ import annotations

from typing import Any, TypeVar
from uuid import UUID

from rest_framework.exceptions import NotFound
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.serializers import Serializer

from sfpserver.accounts.models import ApiToken
from sfpserver.engine import services as engine
from sfpserver.submissions import services
from sfpserver.submissions.exceptions import TaskNotFoundError
from sfpserver.submissions.models import SubmittedTask
from sfpserver.submissions.visibility import visible_runs, visible_tasks


class Pages(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


S = TypeVar("S", bound=Serializer)


def validated(serializer: type[S], data: Any) -> S:
    """`data` (a body or query parameters) checked by `serializer`; a 400 naming each bad field otherwise."""
    checked = serializer(data=data)
    checked.is_valid(raise_exception=True)
    return checked


def no_body(request: Request) -> None:
    """Actions take no body; one sent anyway is parsed all the same, so that a malformed one, or one holding
    what cannot be stored, is the same 400 as on every other endpoint rather than silently ignored."""
    _ = request.data


def caller(request: Request) -> ApiToken:
    token = request.auth
    assert isinstance(token, ApiToken), "HasCapability lets only token-authenticated requests through"
    return token


def visible_run(request: Request, run_id: UUID) -> engine.RunView:
    run = engine.visible_run(run_id, visible_runs(caller(request)))
    if run is None:
        raise NotFound(f"no run with id {run_id}")
    return run


def visible_task(request: Request, operation_id: UUID) -> SubmittedTask:
    """A task submitted through the API, or any run the caller may see (its id is its operationId)."""
    token = caller(request)
    related = ("periodic_task",)
    task = visible_tasks(token).select_related(*related).filter(id=operation_id).first()
    if task is not None:
        return task
    run = engine.visible_run(operation_id, visible_runs(token))
    if run is None:
        raise TaskNotFoundError(operation_id)
    return services.as_task(run)
