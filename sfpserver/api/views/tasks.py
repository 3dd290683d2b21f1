"""sfp server's task API: submit, status, result, cancel, stop-recurring, recurring-instances."""

from __future__ import annotations

from uuid import UUID

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from sfpserver.accounts.permissions import Capability
from sfpserver.api.serializers.common import MessageResponse
from sfpserver.api.serializers.tasks import (
    RecurringInstanceResponse,
    SubmitTaskRequest,
    SubmitTaskResponse,
    TaskResultResponse,
    TaskStatusResponse,
)
from sfpserver.api.views.common import caller, no_body, validated, visible_task
from sfpserver.engine import services as engine
from sfpserver.engine.services import RunStatus
from sfpserver.submissions import services

TAGS = ["tasks"]
RECURRING_INSTANCES_SHOWN = 100


class TasksView(APIView):
    capabilities = {"POST": Capability.OPERATE_RUNS}

    @extend_schema(
        tags=TAGS,
        operation_id="submit_task",
        request=SubmitTaskRequest,
        responses={201: SubmitTaskResponse},
        summary="Submit a task: immediate, scheduled (scheduledFor) or recurring (recurrenceConfig)",
    )
    def post(self, request: Request) -> Response:
        body = validated(SubmitTaskRequest, request.data)
        task = services.submit(body.submission(), caller(request))
        return Response(SubmitTaskResponse({"operationId": task.id, "type": task.type}).data, status=201)


class TaskView(APIView):
    capabilities = {"DELETE": Capability.OPERATE_RUNS}

    @extend_schema(
        tags=TAGS,
        operation_id="cancel_task",
        responses={200: MessageResponse},
        summary="Cancel a pending or active task (for a recurring task, its current execution)",
    )
    def delete(self, request: Request, operation_id: UUID) -> Response:
        services.cancel(visible_task(request, operation_id))
        return Response(MessageResponse({"message": "Task cancelled successfully"}).data)


class TaskStatusView(APIView):
    capabilities = {"GET": Capability.READ_RUNS}

    @extend_schema(tags=TAGS, operation_id="task_status", responses={200: TaskStatusResponse}, summary="Poll a task")
    def get(self, request: Request, operation_id: UUID) -> Response:
        state = services.task_state(visible_task(request, operation_id))
        body = {
            "status": state.status,
            "progress": state.progress,
            "error": state.error,
            "runId": state.run_id,
            "continuedFailures": state.continued_failures,
        }
        return Response(TaskStatusResponse(body).data)


class TaskResultView(APIView):
    capabilities = {"GET": Capability.READ_RUNS}

    @extend_schema(
        tags=TAGS,
        operation_id="task_result",
        responses={200: TaskResultResponse},
        summary="A task's status and result (for a recurring task, its latest execution)",
    )
    def get(self, request: Request, operation_id: UUID) -> Response:
        state = services.task_state(visible_task(request, operation_id))
        body = {
            "status": state.status,
            "progress": state.progress,
            "error": state.error,
            "runId": state.run_id,
            "continuedFailures": state.continued_failures,
            "result": state.result,
        }
        return Response(TaskResultResponse(body).data)


class StopRecurringView(APIView):
    capabilities = {"POST": Capability.OPERATE_RUNS}

    @extend_schema(
        tags=TAGS,
        operation_id="stop_recurring_task",
        request=None,
        responses={200: MessageResponse},
        summary="Stop the future firings of a recurring task",
    )
    def post(self, request: Request, operation_id: UUID) -> Response:
        no_body(request)
        services.stop_recurring(visible_task(request, operation_id))
        return Response(MessageResponse({"message": "Recurring task stopped"}).data)


class RecurringInstancesView(APIView):
    capabilities = {"GET": Capability.READ_RUNS}

    @extend_schema(
        tags=TAGS,
        operation_id="recurring_task_instances",
        responses={200: RecurringInstanceResponse(many=True)},
        summary=f"The executions of a recurring task, latest first (at most {RECURRING_INSTANCES_SHOWN})",
    )
    def get(self, request: Request, operation_id: UUID) -> Response:
        firings = services.recurring_instances(visible_task(request, operation_id), RECURRING_INSTANCES_SHOWN)
        rows = [
            {
                "operationId": run.id,
                "fireTime": firing.fire_time,
                "status": services.TASK_STATUS[RunStatus(run.status)],
                "progress": engine.run_progress_of(run),
            }
            for firing, run in firings
        ]
        return Response(RecurringInstanceResponse(rows, many=True).data, status=status.HTTP_200_OK)
