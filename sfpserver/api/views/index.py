"""`GET /sfp/api/`: what the API offers, with links; and the other spelling of a path (with or without its
trailing slash) redirects to the one the API serves (308, so a POST stays a POST), never a bare 404."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import Resolver404, resolve
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from sfpserver.api.errors import not_found_view
from sfpserver.api.serializers.health import ApiIndexResponse

PREFIX = "/sfp/api/"

# (name, path, what it is): the endpoints a client starts from. Paths with ids are shown as templates.
ENDPOINTS = [
    ("tasks", "tasks", "submit an sfp operation (POST) or list tasks (GET); then /tasks/{id}/status, /result"),
    ("runs", "runs", "workflow runs, filterable; /runs/{id} with steps and attempts, /events, /cancel, /retry-failed"),
    ("workers", "workers", "worker processes and their heartbeats"),
    ("schedules", "schedules", "recurring (cron) and scheduled runs"),
    ("credentials", "credentials", "write-only credentials (owner)"),
    ("webhooks", "webhooks", "incoming webhooks (owner); deliveries to /webhooks/{name}/deliveries, no token"),
    ("ping", "ping", "liveness, no token"),
    ("ready", "ready", "readiness: Postgres, Redis, migrations, a live worker per pool; 503 naming what is not"),
    ("schema", "schema/", "the OpenAPI 3 schema"),
    ("docs", "docs/", "Swagger UI (served locally)"),
    ("redoc", "redoc/", "Redoc (served locally)"),
]


class ApiIndexView(APIView):
    authentication_classes: list[type] = []
    permission_classes = [AllowAny]

    @extend_schema(tags=["health"], operation_id="index", responses={200: ApiIndexResponse}, summary="This index")
    def get(self, request: Request) -> Response:
        links = {
            name: {"href": request.build_absolute_uri(PREFIX + path), "about": about} for name, path, about in ENDPOINTS
        }
        body = {"name": "sfp server task platform API", "auth": "Authorization: Bearer <token>", "links": links}
        return Response(ApiIndexResponse(body).data)


class PermanentRedirect(HttpResponseRedirect):
    status_code = 308  # a permanent redirect that keeps the method and the body


@csrf_exempt  # like every API path: bearer tokens, no cookies, so no CSRF; the 404 or redirect is the answer
def other_spelling(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    """A path the API does not serve: redirect to it with / without its trailing slash if that one is served,
    else the API's 404 body."""
    path = request.path
    candidate = path[:-1] if path.endswith("/") else path + "/"
    if candidate.startswith(PREFIX) and candidate != PREFIX[:-1] and _served(candidate):
        query = request.META.get("QUERY_STRING", "")
        return PermanentRedirect(candidate + (f"?{query}" if query else ""))
    return not_found_view(request)


def _served(path: str) -> bool:
    try:
        match = resolve(path)
    except Resolver404:
        return False
    return match.func is not other_spelling
