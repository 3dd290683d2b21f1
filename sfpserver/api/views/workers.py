"""Workers: pool, status, heartbeat age and the steps each one runs."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from django.conf import settings
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from sfpserver.accounts.models import Role
from sfpserver.accounts.permissions import Capability
from sfpserver.api.serializers.workers import WorkerResponse, WorkersQuery
from sfpserver.api.views.common import caller, validated
from sfpserver.engine import services as engine
from sfpserver.engine.services import WorkerStatus
from sfpserver.submissions.visibility import sees_everything, visible_runs


class WorkerListView(APIView):
    capabilities = {"GET": Capability.READ_WORKERS}

    @extend_schema(
        tags=["workers"],
        operation_id="list_workers",
        parameters=[WorkersQuery],
        responses={200: WorkerResponse(many=True)},
        summary="Workers, live ones first",
    )
    def get(self, request: Request) -> Response:
        wanted = validated(WorkersQuery, request.query_params).validated_data
        shown = engine.list_workers(pool=wanted.get("pool"), status=wanted.get("status"))
        running = _running_steps(request, [w.id for w in shown])
        now = timezone.now()
        rows = [_described(worker, now, running.get(worker.id, [])) for worker in shown]
        rows.sort(key=lambda row: not row["live"])
        body = WorkerResponse(rows, many=True).data
        if caller(request).role == Role.APPLICATION:  # automation has no use for them; never a capability anyway
            for row in body:
                del row["id"]
        return Response(body)


def _described(worker: engine.WorkerView, now: datetime, running: list[engine.RunningStepView]) -> dict[str, Any]:
    """The worker with its liveness, heartbeat age and running steps, as WorkerResponse reads it."""
    age = (now - worker.last_heartbeat).total_seconds()
    dead_after = timedelta(seconds=settings.ENGINE_WORKER_DEAD_AFTER).total_seconds()
    return {
        **asdict(worker),
        "heartbeat_age_seconds": round(max(age, 0.0), 3),
        "live": worker.status == WorkerStatus.ACTIVE and age <= dead_after,
        "running_steps": running,
    }


def _running_steps(request: Request, worker_ids: list[UUID]) -> dict[UUID, list[engine.RunningStepView]]:
    token = caller(request)
    within = None if sees_everything(token) else visible_runs(token)
    by_worker: dict[UUID, list[engine.RunningStepView]] = defaultdict(list)
    for step in engine.running_steps(worker_ids, within):
        by_worker[step.worker_id].append(step)
    return by_worker
