"""Every other operation once, on the stand-in: they run on their pool, map the CLI's results and record them;
recurring ones are registered as cron entries an operator can edit."""

from __future__ import annotations

from typing import Any

import pytest
from django_celery_beat.models import PeriodicTask

from sfpserver.engine.trigger import trigger
from tasks.sample_repo import SampleRepository
from tests.engine.helpers import steps, wait_for_run
from tests.tasks.conftest import Org, output

pytestmark = pytest.mark.usefixtures("platform")


def test_the_standard_and_long_running_operations_run_on_the_standin(
    sample: SampleRepository, orgs: dict[str, Org]
) -> None:
    repo = {"url": sample.url, "ref": "main"}
    staging, devhub = orgs["staging"].name, orgs["devhub"].name
    requests: dict[str, tuple[str, dict[str, Any]]] = {
        "build": ("sfp-build", {"repository": repo, "devhub": devhub}),
        "quickbuild": (
            "sfp-quickbuild",
            {
                "repository": repo,
                "devhub": devhub,
                "diffcheck": True,
                "simulate": {"quickbuild": {"nothing_changed": True}},
            },
        ),
        "validate": ("sfp-validate", {"repository": repo, "target_org": staging, "mode": "individual"}),
        "release": (
            "sfp-release",
            {"target_org": staging, "release_definition": "release: r2\nartifacts:\n  core: 1.0.0-1\n  ui: 1.0.0-1\n"},
        ),
        "prepare_pool": (
            "sfp-pool-prepare",
            {"repository": repo, "devhub": devhub, "simulate": {"pool prepare": {"capacity": "MaxCapacity"}}},
        ),
        "track_source": ("sfp-source-tracking", {"repository": repo, "target_org": staging, "direction": "pull"}),
        "bulk_metadata": (
            "sfp-bulk-metadata",
            {"target_org": staging, "operations": ["profile retrieve", "flow deactivate"]},
        ),
        "analyse": ("sfp-code-analysis", {"repositories": [repo]}),
        "refresh_cache": ("sfp-cache-refresh", {"repositories": [repo]}),
    }
    run_ids = {step: trigger(workflow, input) for step, (workflow, input) in requests.items()}
    runs = {step: wait_for_run(run_id, timeout=120) for step, run_id in run_ids.items()}

    assert {step: run.status for step, run in runs.items()} == dict.fromkeys(requests, "COMPLETED")
    out = {step: output(run_ids[step], step) for step in requests}
    assert out["build"]["artifacts"] == [
        "core_sfpowerscripts_artifact_1.0.0.1.zip",
        "ui_sfpowerscripts_artifact_1.0.0.1.zip",
    ]
    assert out["build"]["build_result"]["summary"]["succeeded"] == 2
    assert (out["quickbuild"]["outcome"], out["quickbuild"]["artifacts"]) == ("nothing_to_do", [])
    assert out["validate"]["metrics"]["validate.succeeded"] == 1
    assert (out["release"]["release"], out["release"]["metrics"]["release.succeeded"]) == ("r2", 1)
    assert (out["prepare_pool"]["exit_code"], out["prepare_pool"]["outcome"]) == (0, "nothing_to_do")
    assert out["track_source"]["direction"] == "pull"
    assert [op["command"] for op in out["bulk_metadata"]["operations"]] == ["profile retrieve", "flow deactivate"]
    assert out["analyse"]["repositories"][0]["report"]["findings"][0]["package"] == "core"
    assert out["refresh_cache"]["mirrors"][0]["url"] == sample.url
    assert steps(run_ids["bulk_metadata"])["bulk_metadata"].queue == "long-running"
    assert steps(run_ids["build"])["build"].queue == "standard"


def test_the_health_check_checks_every_org_in_the_vault_in_its_own_child_run(orgs: dict[str, Org]) -> None:
    parent = wait_for_run(trigger("sfp-health-check", {}))

    children = {str(run_id): wait_for_run(run_id) for run_id in output(parent.id, "discover_orgs")["runs"]}
    checked = {output(run_id, "check_org")["org"]: output(run_id, "check_org")["healthy"] for run_id in children}
    assert {org.name for org in orgs.values()} <= set(checked)
    assert all(checked[org.name] for org in orgs.values())


def test_recurring_workflows_are_registered_as_editable_cron_entries(db_access: None) -> None:
    names = set(PeriodicTask.objects.filter(name__startswith="sfp-").values_list("name", flat=True))

    assert {"sfp-code-analysis:0 2 * * *", "sfp-health-check:*/30 * * * *", "sfp-cache-refresh:15 * * * *"} <= names
