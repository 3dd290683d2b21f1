"""Workflows: pause (new runs are held, at most a queue TTL) and unpause (the held runs start, oldest first)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from sfpserver.accounts.permissions import Capability
from sfpserver.api.serializers.workflows import PauseRequest, PauseResponse
from sfpserver.api.views.common import no_body, validated
from sfpserver.engine import services as engine

TAGS = ["workflows"]


def _answer(workflow: str, steps: int) -> Response:
    pause = engine.workflow_pauses([workflow]).get(workflow)
    body: dict[str, Any] = {
        "workflow": workflow,
        "paused": pause is not None,
        "queue_ttl_seconds": pause.queue_ttl_seconds if pause else None,
        "cron_behavior": pause.cron_behavior if pause else None,
        "scheduled_behavior": pause.scheduled_behavior if pause else None,
        "steps": steps,
    }
    return Response(PauseResponse(body).data)


class WorkflowPauseView(APIView):
    capabilities = {"POST": Capability.MANAGE_WORKFLOWS}

    @extend_schema(
        tags=TAGS,
        operation_id="pause_workflow",
        request=PauseRequest,
        responses={200: PauseResponse},
        summary="Pause a workflow: its new runs are created but wait (at most queue_ttl_seconds) for the unpause",
    )
    def post(self, request: Request, workflow: str) -> Response:
        wanted = validated(PauseRequest, request.data).validated_data
        held = engine.pause_workflow(
            workflow,
            wanted["queue_ttl_seconds"],
            cron_behavior=wanted["cron_behavior"],
            scheduled_behavior=wanted["scheduled_behavior"],
        )
        return _answer(workflow, held)


class WorkflowUnpauseView(APIView):
    capabilities = {"POST": Capability.MANAGE_WORKFLOWS}

    @extend_schema(
        tags=TAGS,
        operation_id="unpause_workflow",
        request=None,
        responses={200: PauseResponse},
        summary="Unpause a workflow: the runs its pause held start, oldest first",
    )
    def post(self, request: Request, workflow: str) -> Response:
        no_body(request)
        return _answer(workflow, engine.unpause_workflow(workflow))
