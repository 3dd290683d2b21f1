"""Fixtures of the sfp operation tests: a sample repository and Salesforce orgs in the vault."""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from sfpserver.engine.models import WorkflowRun
from sfpserver.engine.trigger import trigger
from sfpserver.vault import services
from tasks.sample_repo import SampleRepository, make_sample_repository
from tests.engine.helpers import steps, wait_for_run


@pytest.fixture
def sample() -> Iterator[SampleRepository]:
    """A sample repository where the CLI's own user can read it (pytest's tmp_path is root's alone), under the
    system's temporary folder, which the tests allow as SFP_FILE_REPOSITORY_ROOT (tests/services.py)."""
    folder = Path(tempfile.mkdtemp(prefix="sfp-sample-"))
    folder.chmod(0o755)
    try:
        yield make_sample_repository(folder / "sample")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@dataclass
class Org:
    name: str
    auth_url: str
    refresh_token: str
    client_secret: str


def store_org(name: str, *, org_type: str = "sandbox") -> Org:
    secret, refresh = uuid.uuid4().hex.upper(), f"5Aep861.{uuid.uuid4().hex}"
    url = f"force://PlatformCLI:{secret}:{refresh}@{name}.my.salesforce.com"
    services.store(
        "sfdx_auth_url", name, url, metadata={"username": f"ci@{name}.example", "org_type": org_type}, actor="tests"
    )
    return Org(name, url, refresh, secret)


@pytest.fixture
def orgs(db_access: None) -> dict[str, Org]:
    return {
        "devhub": store_org("t-devhub", org_type="devhub"),
        "staging": store_org("t-staging"),
        "production": store_org("t-production", org_type="production"),
    }


def run(workflow: str, input: dict[str, Any], timeout: float = 90) -> WorkflowRun:
    return wait_for_run(trigger(workflow, input), timeout=timeout)


def output(run_id: Any, step: str) -> dict[str, Any]:
    """The output of a finished step (a dict for every sfp task)."""
    value = steps(run_id)[step].output
    assert isinstance(value, dict), (value, steps(run_id)[step].error)
    return value
