"""Workers: pool, status, heartbeat age and the steps each one runs."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from sfpserver.accounts.models import Role
from sfpserver.accounts.permissions import Capability
from sfpserver.api.serializers.workers import WorkerResponse, WorkersQuery
from sfpserver.api.views.common import caller, run_rows, validated
from sfpserver.engine.models import StepRun, StepStatus, Worker, WorkerStatus
from sfpserver.submissions.visibility import sees_everything


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
        query = validated(WorkersQuery, request.query_params)
        workers = Worker.objects.order_by("pool", "name")
        for name in ("pool", "status"):
            if name in query.validated_data:
                workers = workers.filter(**{name: query.validated_data[name]})
        shown = list(workers)
        running = _running_steps(request, [w.id for w in shown])
        now = timezone.now()
        for worker in shown:
            _annotate(worker, now, running.get(worker.id, []))
        shown.sort(key=lambda w: not w.live)  # type: ignore[attr-defined]
        rows = WorkerResponse(shown, many=True).data
        if caller(request).role == Role.APPLICATION:  # automation has no use for them; never a capability anyway
            for row in rows:
                del row["id"]
        return Response(rows)


def _annotate(worker: Worker, now: Any, running: list[dict[str, Any]]) -> None:
    age = (now - worker.last_heartbeat).total_seconds()
    worker.heartbeat_age_seconds = round(max(age, 0.0), 3)  # type: ignore[attr-defined]
    dead_after = timedelta(seconds=settings.ENGINE_WORKER_DEAD_AFTER).total_seconds()
    worker.live = worker.status == WorkerStatus.ACTIVE and age <= dead_after  # type: ignore[attr-defined]
    worker.running_steps = running  # type: ignore[attr-defined]


def _running_steps(request: Request, worker_ids: list[Any]) -> dict[Any, list[dict[str, Any]]]:
    steps = StepRun.objects.filter(worker_id__in=worker_ids, status=StepStatus.RUNNING)
    token = caller(request)
    if not sees_everything(token):
        steps = steps.filter(run_id__in=run_rows(token).values("id"))
    by_worker: dict[Any, list[dict[str, Any]]] = defaultdict(list)
    for step in steps.order_by("started_at").values("worker_id", "id", "run_id", "name", "attempt", "started_at"):
        by_worker[step["worker_id"]].append(
            {
                "step_id": step["id"],
                "run_id": step["run_id"],
                "step": step["name"],
                "attempt": step["attempt"],
                "started_at": step["started_at"],
            }
        )
    return by_worker
