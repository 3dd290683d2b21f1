"""The dashboard page and the queue-depth endpoint it polls. Everything else the page shows comes from the
REST API (/sfp/api/: workers, cancel, retry, the demo task) and the live feed (/ws/runs/), all with the
token the user gave the page (kept in the browser tab's sessionStorage)."""

from __future__ import annotations

from uuid import UUID

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from sfpserver.accounts.permissions import Capability
from sfpserver.engine import services as engine
from sfpserver.live import demo, queues


@require_GET
def dashboard(request: HttpRequest, run_id: UUID | None = None) -> HttpResponse:
    """The page; /dashboard/runs/<id> is the same page opened on that run (the script reads the path)."""
    context = {
        "demo_task": demo.DEMO_TASK,
        "org_configured": demo.org_configured(),
        "recent_runs": settings.LIVE_RECENT_RUNS,
        "standin": settings.SFP_CLI == "standin",
        "run_statuses": engine.RunStatus.values,
        "workflows": engine.definition_names(),
    }
    return render(request, "live/dashboard.html", context)


class QueuesView(APIView):
    capabilities = {"GET": Capability.READ_WORKERS}

    @extend_schema(exclude=True)
    def get(self, request: Request) -> Response:
        return Response({"queues": queues.queue_depths()})
