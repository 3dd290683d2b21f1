"""The Salesforce stand-in is never silently in charge: a run it executed says so in its detail."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from sfpserver.accounts import tokens
from tests.tasks.conftest import Org, run

pytestmark = pytest.mark.usefixtures("platform")


def client() -> APIClient:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens.issue('standin-mark', 'member').secret}")
    return api


def test_a_run_the_standin_executed_is_marked_so_in_its_detail(orgs: dict[str, Org]) -> None:
    definition = "release: r1\nartifacts:\n  core: 1.0.0-1\n"
    released = run("sfp-release", {"target_org": orgs["staging"].name, "release_definition": definition})
    demo = run("demo.pipeline", {"repository": "demo"})
    api = client()

    assert released.status == "COMPLETED"
    assert api.get(f"/sfp/api/runs/{released.id}").json()["salesforce_standin"] is True
    assert api.get(f"/sfp/api/runs/{demo.id}").json()["salesforce_standin"] is False
