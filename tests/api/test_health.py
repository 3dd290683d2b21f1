"""Ping, readiness, and the OpenAPI schema and docs pages: all without a token."""

from __future__ import annotations

import logging
import re

import pytest
from django.contrib.staticfiles import finders
from django.test import override_settings
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

ALL_GOOD = {
    "postgres": {"ok": True, "detail": "reachable"},
    "redis": {"ok": True, "detail": "reachable"},
    "migrations": {"ok": True, "detail": "all applied"},
}


def test_ping_answers_without_a_token(anonymous: APIClient) -> None:
    response = anonymous.get("/sfp/api/ping")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


@override_settings(API_READY_POOLS=["nobody-serves-this"])
def test_readiness_is_503_naming_a_pool_without_a_live_worker(anonymous: APIClient) -> None:
    response = anonymous.get("/sfp/api/ready")
    assert (response.status_code, response.json()) == (
        503,
        {
            "ready": False,
            "checks": {
                **ALL_GOOD,
                "workers": {
                    "ok": False,
                    "detail": "no live worker in pool(s) nobody-serves-this (nobody-serves-this: 0 live)",
                },
            },
        },
    )


@override_settings(API_READY_POOLS=["nobody-serves-this"])
def test_a_503_while_starting_is_not_logged_as_a_server_error(
    anonymous: APIClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)

    assert anonymous.get("/sfp/api/ready").status_code == 503

    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert [
        (r.name, r.getMessage(), r.__dict__["waiting_for"]) for r in caplog.records if r.name.startswith("sfpserver")
    ] == [("sfpserver.api.views.health", "not ready", ["workers"])]


@override_settings(API_READY_POOLS=[], REDIS_URL="redis://:hunter2@127.0.0.1:1/0")
def test_readiness_is_503_when_redis_cannot_be_reached_without_showing_its_url(anonymous: APIClient) -> None:
    response = anonymous.get("/sfp/api/ready")
    assert (response.status_code, response.json()) == (
        503,
        {
            "ready": False,
            "checks": {
                **ALL_GOOD,
                "redis": {"ok": False, "detail": "cannot reach the broker (ConnectionError)"},
                "workers": {"ok": True, "detail": "no pool is required (API_READY_POOLS is empty)"},
            },
        },
    )
    assert "hunter2" not in response.content.decode()


def test_the_openapi_schema_documents_every_endpoint(anonymous: APIClient) -> None:
    response = anonymous.get("/sfp/api/schema/?format=json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert sorted(schema["paths"]) == [
        "/sfp/api/",
        "/sfp/api/credentials",
        "/sfp/api/credentials/{name}",
        "/sfp/api/internal/leases",
        "/sfp/api/ping",
        "/sfp/api/ready",
        "/sfp/api/runs",
        "/sfp/api/runs/{run_id}",
        "/sfp/api/runs/{run_id}/approval",
        "/sfp/api/runs/{run_id}/cancel",
        "/sfp/api/runs/{run_id}/events",
        "/sfp/api/runs/{run_id}/retry-failed",
        "/sfp/api/runs/{run_id}/steps/{step_id}/replay",
        "/sfp/api/schedules",
        "/sfp/api/schedules/{schedule_id}",
        "/sfp/api/tasks",
        "/sfp/api/tasks/{operation_id}",
        "/sfp/api/tasks/{operation_id}/recurring-instances",
        "/sfp/api/tasks/{operation_id}/result",
        "/sfp/api/tasks/{operation_id}/status",
        "/sfp/api/tasks/{operation_id}/stop-recurring",
        "/sfp/api/webhooks",
        "/sfp/api/webhooks/{name}",
        "/sfp/api/webhooks/{name}/deliveries",
        "/sfp/api/workers",
        "/sfp/api/workflows/{workflow}/pause",
        "/sfp/api/workflows/{workflow}/unpause",
    ]
    submit_task = schema["paths"]["/sfp/api/tasks"]["post"]
    assert submit_task["security"] == [{"bearerAuth": []}]
    assert sorted(submit_task["responses"]) == ["201", "400", "401", "403", "404", "409", "413", "415", "429"]
    assert schema["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            assert operation.get("summary"), f"{method.upper()} {path} has no summary"
            first = min(operation["responses"])
            assert first == "204" or "content" in operation["responses"][first], f"{method} {path}"


@pytest.mark.parametrize("page", ["/sfp/api/docs/", "/sfp/api/redoc/"])
def test_the_docs_pages_render(anonymous: APIClient, page: str) -> None:
    response = anonymous.get(page)
    assert response.status_code == 200
    assert "/sfp/api/schema/" in response.content.decode()


REMOTE = re.compile(
    r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//|url\(\s*["']?(?:https?:)?//|import\s*\(\s*["'](?:https?:)?//"""
)


@pytest.mark.parametrize("page", ["/sfp/api/docs/", "/sfp/api/redoc/"])
def test_the_docs_pages_reference_no_remote_asset_and_their_assets_are_local(anonymous: APIClient, page: str) -> None:
    html = anonymous.get(page).content.decode()
    assert REMOTE.findall(html) == []
    assets = re.findall(r"""(?:src|href)="(/static/[^"]+)\"""", html)
    assert any(asset.endswith(".js") for asset in assets), html
    for asset in assets:
        assert finders.find(asset.removeprefix("/static/")), f"{asset} is not served from the virtualenv"


def test_the_api_root_is_an_index_of_links(anonymous: APIClient) -> None:
    response = anonymous.get("/sfp/api/")
    assert response.status_code == 200
    body = response.json()
    assert body["name"] == "sfp server task platform API"
    hrefs = {name: link["href"] for name, link in body["links"].items()}
    assert hrefs["runs"] == "http://testserver/sfp/api/runs"
    assert hrefs["docs"] == "http://testserver/sfp/api/docs/"
    assert set(hrefs) >= {"tasks", "runs", "workers", "schedules", "schema", "docs", "redoc", "ready"}


@pytest.mark.parametrize(
    ("asked", "served"),
    [
        ("/sfp/api/runs/", "/sfp/api/runs"),
        ("/sfp/api/tasks/?page=2", "/sfp/api/tasks?page=2"),
        ("/sfp/api/docs", "/sfp/api/docs/"),
        ("/sfp/api/schema", "/sfp/api/schema/"),
        ("/sfp/api/runs/00000000-0000-0000-0000-000000000000/", "/sfp/api/runs/00000000-0000-0000-0000-000000000000"),
    ],
)
def test_the_other_spelling_of_a_path_redirects_to_the_served_one(
    anonymous: APIClient, asked: str, served: str
) -> None:
    response = anonymous.get(asked)
    assert (response.status_code, response["Location"]) == (308, served)


def test_a_path_served_in_neither_spelling_is_the_api_s_404(anonymous: APIClient) -> None:
    response = anonymous.get("/sfp/api/nothing/")
    assert (response.status_code, response.json()) == (
        404,
        {"error": "not_found", "detail": "no such resource: /sfp/api/nothing/"},
    )


def test_a_post_to_the_other_spelling_is_redirected_without_a_csrf_refusal(anonymous: APIClient) -> None:
    client = APIClient(enforce_csrf_checks=True)
    response = client.post("/sfp/api/tasks/")
    assert (response.status_code, response["Location"]) == (308, "/sfp/api/tasks")
    response = client.post("/sfp/api/runs/not-a-run/cancel")
    assert (response.status_code, response.json()) == (
        404,
        {"error": "not_found", "detail": "no such resource: /sfp/api/runs/not-a-run/cancel"},
    )
