"""Leak check of the sfp operations: canary credentials are planted in the vault and used by operations that
succeed and that fail, through a careless CLI that prints its environment and the auth URL it reads; then
no table of the database, no Redis key or queued message and no line the worker processes logged holds any
canary (the vault's ciphertext column holds only ciphertext)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from sfpserver.engine.models import EventKind, RunEvent, Worker, WorkerStatus
from sfpserver.vault import services
from tasks.sample_repo import SampleRepository
from tests.conftest import Processes, wait_until
from tests.engine.helpers import wait_for_run
from tests.tasks.conftest import Org, output, run, store_org
from tests.vault.test_leak import database_hits, redis_hits

POOLS = {"standard": ("standard", "--count", "2"), "long-running": ("long-running", "--count", "1")}


def _active(pool: str) -> int:
    return Worker.objects.filter(status=WorkerStatus.ACTIVE, pool=pool).count()


@pytest.fixture
def debug_logging_pools(platform: Processes) -> Iterator[None]:
    """The platform's pools, restarted to log everything (DEBUG) while the leak check runs."""
    for name in POOLS:
        platform.stop(name)
    for name, args in POOLS.items():
        platform.start(f"{name}-leak", *args, LOG_LEVEL="DEBUG")
    wait_until(lambda: _active("standard") >= 2 and _active("long-running") >= 1, timeout=90, what="the pools")
    yield
    for name in POOLS:
        platform.stop(f"{name}-leak")
    for name, args in POOLS.items():
        platform.start(name, *args)
    wait_until(lambda: _active("standard") >= 2 and _active("long-running") >= 1, timeout=90, what="the pools")


class Canaries:
    def __init__(self) -> None:
        self.orgs = {role: store_org(f"leak-{role}-{uuid.uuid4().hex[:6]}") for role in ("devhub", "staging", "prod")}
        self.npm = f"npm_{uuid.uuid4().hex}{uuid.uuid4().hex[:4]}"
        self.github = f"ghp_{uuid.uuid4().hex}{uuid.uuid4().hex[:4]}"
        services.store("npm_token", "leak-npm", self.npm, actor="tests")
        services.store("github_token", "leak-github", self.github, actor="tests")

    def needles(self) -> list[str]:
        org_parts = [
            part for org in self.orgs.values() for part in (org.client_secret, org.refresh_token, org.auth_url)
        ]
        return [*org_parts, self.npm, self.github]

    def org(self, role: str) -> Org:
        return self.orgs[role]


CARELESS = {"org login": {"leak_stdin": True}, "release": {"leak_env": ["SFP_NPM_TOKEN"]}}


@pytest.mark.usefixtures("debug_logging_pools")
def test_planted_canaries_appear_nowhere_after_operations_use_them(
    platform: Processes, sample: SampleRepository
) -> None:
    canaries = Canaries()
    repository = {"url": sample.url, "token_credential": "leak-github"}
    org = canaries.org

    pipeline = run(
        "sfp-release-pipeline",
        {
            "repository": repository,
            "devhub": org("devhub").name,
            "staging_org": org("staging").name,
            "production_org": org("prod").name,
            "simulate": {**CARELESS, "deploy_staging:install": {"fail_attempts": 1}},
        },
        timeout=120,
    )
    release = run(
        "sfp-release",
        {
            "target_org": org("staging").name,
            "release_definition": "release: r1\nartifacts:\n  core: 1.0.0-1\n",
            "npm_scope": "@acme",
            "npm_token_credential": "leak-npm",
            "simulate": {**CARELESS, "release": {"leak_env": ["SFP_NPM_TOKEN"], "fail": True}},
        },
    )
    install = run(
        "sfp-install",
        {
            "repository": repository,
            "devhub": org("devhub").name,
            "target_org": org("prod").name,
            "simulate": {**CARELESS, "install": {"fail": True, "message": "boom"}},
        },
    )
    health = run("sfp-health-check", {"orgs": [org("staging").name, "leak-missing-org"]})
    children = [wait_for_run(child) for child in output(health.id, "discover_orgs")["runs"]]

    assert (pipeline.status, release.status, install.status, health.status) == (
        "COMPLETED",
        "FAILED",
        "FAILED",
        "COMPLETED",
    )
    assert [child.status for child in children] == ["COMPLETED", "COMPLETED"]
    printed = set(
        RunEvent.objects.filter(kind=EventKind.LOG, message__startswith="debug: ").values_list("message", flat=True)
    )
    assert {"debug: read auth url ***", "debug: SFP_NPM_TOKEN=***"} <= printed  # the CLI did print them

    needles = canaries.needles()
    assert database_hits(needles) == {}
    assert redis_hits(needles) == []
    logs = platform.logs()
    assert "debug: SFP_NPM_TOKEN=***" in logs  # the workers logged the careless lines, masked
    assert [needle for needle in needles if needle in logs] == []
