"""Runs: list and filter, detail with steps and attempts, events, cancel, retry-failed, replay a step."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any
from uuid import UUID

from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import NotFound
from rest_framework.generics import ListAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from sfpserver.accounts.permissions import Capability
from sfpserver.api.serializers.runs import (
    ApprovalRequest,
    ApprovalResponse,
    EventResponse,
    EventsQuery,
    EventsResponse,
    RunActionResponse,
    RunDetail,
    RunListQuery,
    RunStatusResponse,
    RunSummary,
)
from sfpserver.api.views.common import Pages, caller, no_body, validated, visible_run
from sfpserver.engine import services as engine
from sfpserver.engine.services import EventKind, InvalidStateError
from sfpserver.submissions import approvals
from sfpserver.submissions.standin import STANDIN_MARK
from sfpserver.submissions.visibility import creator, visible_runs

TAGS = ["runs"]


class RunListView(ListAPIView):
    capabilities = {"GET": Capability.READ_RUNS}
    serializer_class = RunSummary
    pagination_class = Pages

    @extend_schema(tags=TAGS, operation_id="list_runs", parameters=[RunListQuery], summary="Runs, newest first")
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> engine.RunList:  # type: ignore[override]  # a lazy list the paginator slices
        query = validated(RunListQuery, self.request.query_params)
        return engine.list_runs(run_query(query.validated_data, visible_runs(caller(self.request))))


def run_query(filters: dict[str, Any], within: Any) -> engine.RunQuery:
    """The engine's run filters from the validated query parameters, narrowed to the runs a caller sees."""
    return engine.RunQuery(
        workflows=[filters["workflow"]] if "workflow" in filters else None,
        statuses=[filters["status"]] if "status" in filters else None,
        created_after=filters.get("created_after"),
        created_before=filters.get("created_before"),
        metadata_equals=filters.get("metadata", ()),
        within=within,
    )


class RunDetailView(APIView):
    capabilities = {"GET": Capability.READ_RUNS}

    @extend_schema(
        tags=TAGS,
        operation_id="get_run",
        responses={200: RunDetail},
        summary="A run with its steps, their attempts (retry history), errors, input and output",
    )
    def get(self, request: Request, run_id: UUID) -> Response:
        detail = engine.run_detail(visible_run(request, run_id).id)
        if detail is None:
            raise NotFound(f"no run with id {run_id}")
        token = creator(detail.run)
        body = {
            **asdict(detail.run),
            "progress": detail.progress,
            "created_by": token.name if token is not None else None,
            "salesforce_standin": ran_on_standin(detail.run.id),
            "steps": detail.steps,
        }
        return Response(RunDetail(body).data)


def ran_on_standin(run_id: UUID) -> bool:
    """Whether an sfp command of the run went to the Salesforce stand-in rather than Salesforce."""
    return engine.any_event(run_id, EventKind.LOG, STANDIN_MARK)


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
        limit = wanted["limit"]
        kind, step = wanted.get("kind"), wanted.get("step")
        page = engine.events_after(run.id, wanted["after"], limit + 1, kind=kind, step_id=step)
        shown = page[:limit]
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
        if not engine.cancel_run(run.id):
            raise InvalidStateError(f"run {run.id} is {engine.run_status(run.id)}; nothing is left to cancel")
        return Response(RunStatusResponse({"run_id": run.id, "status": engine.run_status(run.id)}).data)


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
        steps = engine.retry_failed(run.id)
        return Response(RunActionResponse(RunActionResponse.of(run.id, steps)).data)


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
        if not engine.step_in_run(step_id, run.id):
            raise NotFound(f"no step with id {step_id} in run {run.id}")
        steps = engine.replay_step(step_id)
        return Response(RunActionResponse(RunActionResponse.of(run.id, steps)).data)


class RunApprovalView(APIView):
    capabilities = {"POST": Capability.OPERATE_RUNS}

    @extend_schema(
        tags=TAGS,
        operation_id="decide_approval",
        request=ApprovalRequest,
        responses={200: ApprovalResponse},
        summary="Approve or reject the run's pending approval gate (the release pipeline's, before production)",
    )
    def post(self, request: Request, run_id: UUID) -> Response:
        run = visible_run(request, run_id)
        body = validated(ApprovalRequest, request.data).validated_data
        decision = approvals.Approval(
            run.id, approvals.Decision(body["decision"]), body["comment"], caller(request).name
        )
        decided = approvals.decide(decision)
        return Response(ApprovalResponse({**asdict(decided), "decision": decided.decision.value}).data)
