"""Liveness (`ping`) and readiness, both without a token."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from sfpserver.api import readiness
from sfpserver.api.serializers.health import PingResponse, ReadinessResponse

TAGS = ["health"]


class PingView(APIView):
    authentication_classes: list[type] = []
    permission_classes = [AllowAny]

    @extend_schema(tags=TAGS, operation_id="ping", responses={200: PingResponse}, summary="The API answers")
    def get(self, request: Request) -> Response:
        return Response(PingResponse({"status": "ok"}).data)


class ReadinessView(APIView):
    authentication_classes: list[type] = []
    permission_classes = [AllowAny]

    @extend_schema(
        tags=TAGS,
        operation_id="readiness",
        responses={200: ReadinessResponse, 503: ReadinessResponse},
        summary="Postgres, Redis, migrations and a live worker per pool; 503 naming what is not ready",
    )
    def get(self, request: Request) -> Response:
        checks = readiness.checks()
        ready = all(check.ok for check in checks.values())
        body = {"ready": ready, "checks": {name: {"ok": c.ok, "detail": c.detail} for name, c in checks.items()}}
        return Response(ReadinessResponse(body).data, status=200 if ready else 503)
