"""The dashboard page and the queue depth it polls (Postgres QUEUED counts next to Redis LLEN)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client, override_settings

from sfpserver.live import demo
from tests.api.conftest import Personas
from tests.live import helpers


def _depth(client: Any, queue: str) -> dict[str, Any]:
    body = client.get("/dashboard/queues").json()
    return next(q for q in body["queues"] if q["queue"] == queue)


@pytest.mark.django_db
def test_the_dashboard_page_loads_its_script_and_offers_the_demo_when_no_org_is_configured() -> None:
    page = Client().get("/dashboard/")
    assert page.status_code == 200
    html = page.content.decode()
    assert '<script src="/static/live/dashboard.js">' in html
    assert 'id="demo-banner"' in html and '"type": "demo"' in html


def test_the_asgi_app_serves_the_dashboard_script() -> None:
    from asgiref.sync import async_to_sync
    from asgiref.testing import ApplicationCommunicator

    from config.asgi import application

    async def fetch() -> tuple[int, bytes]:
        scope = {
            "type": "http",
            "method": "GET",
            "path": "/static/live/dashboard.js",
            "query_string": b"",
            "headers": [(b"host", b"127.0.0.1")],
            "http_version": "1.1",
            "scheme": "http",
        }
        communicator = ApplicationCommunicator(application, scope)
        await communicator.send_input({"type": "http.request", "body": b""})
        start = await communicator.receive_output(5)
        body = b""
        while True:
            part = await communicator.receive_output(5)
            body += part.get("body", b"")
            if not part.get("more_body"):
                return start["status"], body

    status, body = async_to_sync(fetch)()
    assert status == 200 and b"/ws/runs/" in body


def test_the_demo_is_the_demo_task_type_until_the_release_pipeline_replaces_it() -> None:
    from sfpserver.submissions.task_types import workflow_for

    assert workflow_for(demo.DEMO_TASK["type"]) is not None


def test_queue_depth_counts_queued_steps_in_postgres_and_their_messages_in_redis(live_personas: Personas) -> None:
    client = live_personas.member.client
    helpers.start_run()  # the queue is listed once a step waits on it
    before = _depth(client, helpers.IDLE_QUEUE)
    helpers.start_run()
    after = _depth(client, helpers.IDLE_QUEUE)
    assert (after["queued"], after["in_broker"]) == (before["queued"] + 1, before["in_broker"] + 1)
    standard = _depth(client, "standard")
    assert standard["pool"] == "standard"


def test_queue_depth_needs_a_token(live_db: None) -> None:
    response = Client().get("/dashboard/queues")
    assert response.status_code == 401
    assert response.json()["error"] == "not_authenticated"


@pytest.mark.django_db
@pytest.mark.parametrize(("cli", "warned"), [("standin", True), ("real", False)])
def test_the_dashboard_header_says_loudly_when_the_salesforce_standin_is_active(cli: str, warned: bool) -> None:
    with override_settings(SFP_CLI=cli):
        html = Client().get("/dashboard/").content.decode()
    assert ('id="standin"' in html) is warned
    assert ("SALESFORCE STAND-IN ACTIVE" in html) is warned


@pytest.mark.django_db
def test_a_run_has_its_own_dashboard_address() -> None:
    page = Client().get("/dashboard/runs/4b0e8f7e-1d1c-4c55-9f3e-0d6b8a1f2c3d")
    assert page.status_code == 200
    assert '<script src="/static/live/dashboard.js">' in page.content.decode()
    assert Client().get("/dashboard/runs/not-a-run").status_code == 404
