"""The composed release pipeline on the long-running pool, end to end on the Salesforce stand-in."""

from __future__ import annotations

from typing import Any

import pytest

from sfpserver.engine.models import EventKind, RunEvent
from sfpserver.vault.models import CredentialAudit
from tasks.sample_repo import SampleRepository
from tests.engine.helpers import attempts, steps
from tests.tasks.conftest import Org, output, run

pytestmark = pytest.mark.usefixtures("platform")


def pipeline_input(sample: SampleRepository, orgs: dict[str, Org], **simulate: Any) -> dict[str, object]:
    return {
        "repository": {"url": sample.url, "ref": "main"},
        "devhub": orgs["devhub"].name,
        "staging_org": orgs["staging"].name,
        "production_org": orgs["production"].name,
        "simulate": simulate,
    }


def test_the_release_pipeline_retries_only_the_step_that_failed(sample: SampleRepository, orgs: dict[str, Org]) -> None:
    finished = run(
        "sfp-release-pipeline", pipeline_input(sample, orgs, **{"deploy_staging:install": {"fail_attempts": 1}})
    )

    assert finished.status == "COMPLETED"
    by_name = steps(finished.id)
    outcomes = {name: [a["outcome"] for a in attempts(step)] for name, step in by_name.items()}
    assert outcomes == {
        "validate": ["COMPLETED"],
        "deploy_staging": ["FAILED", "COMPLETED"],
        "run_tests": ["COMPLETED"],
        "approval": ["COMPLETED"],  # no approval_timeout_minutes: the gate passes at once
        "deploy_production": ["COMPLETED"],
    }
    failure = attempts(by_name["deploy_staging"])[0]["error_message"]
    assert failure.startswith("sfp install failed: exit code 1")
    assert {step.queue for step in by_name.values()} == {"long-running"}

    validated = output(finished.id, "validate")["commit"]
    assert output(finished.id, "deploy_staging")["commit"] == validated
    assert output(finished.id, "deploy_production")["commit"] == validated
    assert output(finished.id, "deploy_production")["artifacts"] == [
        "core_sfpowerscripts_artifact_1.0.0.1.zip",
        "ui_sfpowerscripts_artifact_1.0.0.1.zip",
    ]
    assert output(finished.id, "deploy_production")["outcome"] == "succeeded"
    assert output(finished.id, "run_tests")["test_results"][0]["testsRan"] == 40


def test_each_pipeline_step_streams_its_output_and_progress(sample: SampleRepository, orgs: dict[str, Org]) -> None:
    finished = run("sfp-release-pipeline", pipeline_input(sample, orgs))

    assert finished.status == "COMPLETED"
    staging = steps(finished.id)["deploy_staging"]
    lines = list(RunEvent.objects.filter(step=staging, kind=EventKind.LOG).values_list("message", flat=True))
    install = f"$ sfp install -o {orgs['staging'].name} --artifactdir artifacts --waittime 120"
    assert f"[Salesforce stand-in] {install}" in lines  # marked: the stand-in ran it, not Salesforce
    assert any(line.startswith("Status: InProgress Progress: ") for line in lines)
    assert any(line.startswith("2 artifacts installed in ") and line.endswith(" with {0} errors") for line in lines)
    progress = list(
        RunEvent.objects.filter(step=staging, kind=EventKind.PROGRESS).order_by("id").values_list("data", flat=True)
    )
    percents = [(event or {})["percent"] for event in progress]
    assert 0 < min(percents) < 100 and percents[-1] == 100
    assert output(finished.id, "deploy_staging")["metrics"]["install.succeeded.packages"] == 2


def test_each_pipeline_step_leases_only_the_orgs_it_names(sample: SampleRepository, orgs: dict[str, Org]) -> None:
    finished = run("sfp-release-pipeline", pipeline_input(sample, orgs))

    leased: dict[str, set[str]] = {}
    for audit in CredentialAudit.objects.filter(run_id=finished.id, granted=True):
        leased.setdefault(audit.step_name, set()).update(audit.credential_names)
    assert leased == {
        "validate": {orgs["staging"].name, orgs["devhub"].name},
        "deploy_staging": {orgs["staging"].name, orgs["devhub"].name},
        "run_tests": {orgs["staging"].name},
        "deploy_production": {orgs["production"].name, orgs["devhub"].name},
    }
