"""Liveness (`ping`) and readiness, both without a token.

A 503 from readiness is an answer, not a server error: a starting server gives it to every poll until its
workers are up, so it is logged at debug level, not as django.request's "Service Unavailable" error."""

from __future__ import annotations

import logging

from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from sfpserver.api import readiness
from sfpserver.api.serializers.health import PingResponse, ReadinessResponse

TAGS = ["health"]

logger = logging.getLogger(__name__)


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
        response = Response(ReadinessResponse(body).data, status=200 if ready else 503)
        if not ready:
            waiting = sorted(name for name, check in checks.items() if not check.ok)
            logger.debug("not ready", extra={"waiting_for": waiting})
            response._has_been_logged = True  # type: ignore[attr-defined]  # Django's log_response skips it
        return response
