"""Runs: list and filter, detail with steps and attempts, events, cancel, retry-failed, replay a step."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.db.models import Prefetch, QuerySet
from django.db.models.fields.json import KeyTextTransform
from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import NotFound
from rest_framework.generics import ListAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from sfpserver.accounts.permissions import Capability
from sfpserver.api.serializers.runs import (
    EventResponse,
    EventsQuery,
    EventsResponse,
    RunActionResponse,
    RunDetail,
    RunListQuery,
    RunStatusResponse,
    RunSummary,
)
from sfpserver.api.views.common import Pages, caller, no_body, run_rows, validated, visible_run
from sfpserver.engine import lifecycle
from sfpserver.engine.exceptions import InvalidStateError
from sfpserver.engine.models import EventKind, RunEvent, StepRun, WorkflowRun
from sfpserver.engine.progress import run_progress
from sfpserver.submissions.standin import STANDIN_MARK
from sfpserver.submissions.visibility import creator

TAGS = ["runs"]


class RunListView(ListAPIView):
    capabilities = {"GET": Capability.READ_RUNS}
    serializer_class = RunSummary
    pagination_class = Pages

    @extend_schema(tags=TAGS, operation_id="list_runs", parameters=[RunListQuery], summary="Runs, newest first")
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[WorkflowRun]:
        query = validated(RunListQuery, self.request.query_params)
        return filter_runs(run_rows(caller(self.request)), query.validated_data).order_by("-created_at", "id")


def filter_runs(runs: QuerySet[WorkflowRun], filters: dict[str, Any]) -> QuerySet[WorkflowRun]:
    if "workflow" in filters:
        runs = runs.filter(workflow_name=filters["workflow"])
    if "status" in filters:
        runs = runs.filter(status=filters["status"])
    if "created_after" in filters:
        runs = runs.filter(created_at__gte=filters["created_after"])
    if "created_before" in filters:
        runs = runs.filter(created_at__lt=filters["created_before"])
    for index, (key, value) in enumerate(filters.get("metadata", [])):
        alias = f"metadata_{index}"
        runs = runs.alias(**{alias: KeyTextTransform(key, "additional_metadata")}).filter(**{alias: value})
    return runs


class RunDetailView(APIView):
    capabilities = {"GET": Capability.READ_RUNS}

    @extend_schema(
        tags=TAGS,
        operation_id="get_run",
        responses={200: RunDetail},
        summary="A run with its steps, their attempts (retry history), errors, input and output",
    )
    def get(self, request: Request, run_id: UUID) -> Response:
        run = visible_run(request, run_id)
        steps = StepRun.objects.order_by("created_at").select_related("worker").prefetch_related("attempts")
        run = WorkflowRun.objects.prefetch_related(Prefetch("steps", queryset=steps)).get(id=run.id)
        run.progress = run_progress(run)  # type: ignore[attr-defined]
        token = creator(run)  # type: ignore[arg-type]  # reads only .id
        run.created_by = token.name if token is not None else None  # type: ignore[attr-defined]
        run.salesforce_standin = ran_on_standin(run.id)  # type: ignore[attr-defined]
        return Response(RunDetail(run).data)


def ran_on_standin(run_id: UUID) -> bool:
    """Whether an sfp command of the run went to the Salesforce stand-in rather than Salesforce."""
    return RunEvent.objects.filter(run_id=run_id, kind=EventKind.LOG, message__startswith=STANDIN_MARK).exists()


class RunEventsView(APIView):
    capabilities = {"GET": Capability.READ_RUNS}

    @extend_schema(
        tags=TAGS,
        operation_id="run_events",
        parameters=[EventsQuery],
        responses={200: EventsResponse},
        summary="Log lines, stream chunks, progress and status events in order; page with `after`",
    )
    def get(self, request: Request, run_id: UUID) -> Response:
        run = visible_run(request, run_id)
        wanted = validated(EventsQuery, request.query_params).validated_data
        events = RunEvent.objects.filter(run_id=run.id, id__gt=wanted["after"]).order_by("id")
        if "kind" in wanted:
            events = events.filter(kind=wanted["kind"])
        if "step" in wanted:
            events = events.filter(step_id=wanted["step"])
        page = list(events[: wanted["limit"] + 1])
        shown = page[: wanted["limit"]]
        body = {
            "results": EventResponse(shown, many=True).data,
            "next_after": shown[-1].id if shown else wanted["after"],
            "has_more": len(page) > len(shown),
        }
        return Response(EventsResponse(body).data)


class RunCancelView(APIView):
    capabilities = {"POST": Capability.OPERATE_RUNS}

    @extend_schema(
        tags=TAGS,
        operation_id="cancel_run",
        request=None,
        responses={200: RunStatusResponse},
        summary="Cancel every unfinished step; running code is stopped within a heartbeat",
    )
    def post(self, request: Request, run_id: UUID) -> Response:
        no_body(request)
        run = visible_run(request, run_id)
        if not lifecycle.cancel_run(run.id):
            run.refresh_from_db(fields=["status"])
            raise InvalidStateError(f"run {run.id} is {run.status}; nothing is left to cancel")
        run.refresh_from_db(fields=["status"])
        return Response(RunStatusResponse({"run_id": run.id, "status": run.status}).data)


class RunRetryFailedView(APIView):
    capabilities = {"POST": Capability.OPERATE_RUNS}

    @extend_schema(
        tags=TAGS,
        operation_id="retry_failed_steps",
        request=None,
        responses={200: RunActionResponse},
        summary="Re-run only the failed and cancelled steps of a finished run and what depends on them",
    )
    def post(self, request: Request, run_id: UUID) -> Response:
        no_body(request)
        run = visible_run(request, run_id)
        steps = lifecycle.retry_failed(run.id)
        return Response(RunActionResponse(RunActionResponse.of(run, steps)).data)


class StepReplayView(APIView):
    capabilities = {"POST": Capability.OPERATE_RUNS}

    @extend_schema(
        tags=TAGS,
        operation_id="replay_step",
        request=None,
        responses={200: RunActionResponse},
        summary="Re-run one step and everything downstream of it; completed upstream outputs are kept",
    )
    def post(self, request: Request, run_id: UUID, step_id: UUID) -> Response:
        no_body(request)
        run = visible_run(request, run_id)
        if not StepRun.objects.filter(id=step_id, run_id=run.id).exists():
            raise NotFound(f"no step with id {step_id} in run {run.id}")
        steps = lifecycle.replay_step(step_id)
        return Response(RunActionResponse(RunActionResponse.of(run, steps)).data)
