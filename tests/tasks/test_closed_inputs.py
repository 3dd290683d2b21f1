"""Inputs that only the stand-in may act on, and release names that would leave the workspace, are refused
when a run is triggered, naming the field; nothing is recorded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pytest_django.fixtures import SettingsWrapper

from sfpserver.engine.exceptions import InvalidInputError
from sfpserver.engine.models import WorkflowRun
from sfpserver.engine.trigger import trigger
from tasks import releasedef
from tasks.inputs import ImpactInput
from tests.api.conftest import make_persona

STANDIN_ONLY = (
    "simulate: Value error, is for the Salesforce stand-in only (SFP_CLI=standin); this server runs the real sfp CLI"
)
NOT_A_RELEASE_NAME = (
    "a release name is 1-100 letters, digits, `.`, `_` or `-`, starting with a letter or digit, without `..`"
)
REPOSITORY = {"url": "https://github.com/acme/repo.git"}
BAD_RELEASE_NAMES = ["../../etc/cron.d/x", "r1/../../x", "..", "r1..", ".hidden", "r" * 101, "r 1", "/abs"]


def refused(workflow: str, input: dict[str, Any]) -> str:
    before = WorkflowRun.objects.count()
    with pytest.raises(InvalidInputError) as refusal:
        trigger(workflow, input)
    assert WorkflowRun.objects.count() == before
    return refusal.value.problem


@pytest.mark.parametrize("simulation", [{"impact": {"leak_env": ["VAULT_KEYS"]}}, {"impact": {"seconds": 1}}])
def test_a_simulation_is_refused_at_trigger_when_the_real_cli_runs(
    db_access: None, settings: SettingsWrapper, simulation: dict[str, Any]
) -> None:
    settings.SFP_CLI = "real"

    assert refused("sfp-impact", {"repository": REPOSITORY, "simulate": simulation}) == STANDIN_ONLY


def test_the_api_refuses_a_simulation_when_the_real_cli_runs_naming_the_field(
    db: None, settings: SettingsWrapper
) -> None:
    settings.SFP_CLI = "real"
    client = make_persona("ci", "application").client

    data = {"repository": REPOSITORY, "simulate": {"impact": {"leak_stdin": True}}}
    response = client.post("/sfp/api/tasks", {"type": "impactAnalysis", "data": data}, format="json")

    assert (response.status_code, response.json()) == (
        400,
        {"error": "invalid_input", "detail": {"data.simulate": STANDIN_ONLY.removeprefix("simulate: Value error, ")}},
    )


def test_the_stand_in_takes_a_simulation_and_the_real_cli_an_input_without_one(settings: SettingsWrapper) -> None:
    settings.SFP_CLI = "standin"
    assert ImpactInput.model_validate({"repository": REPOSITORY, "simulate": {"impact": {"fail": True}}})
    settings.SFP_CLI = "real"
    assert ImpactInput.model_validate({"repository": REPOSITORY, "simulate": {}}).simulate == {}


@pytest.mark.parametrize("name", BAD_RELEASE_NAMES)
def test_a_release_definition_whose_name_leaves_the_workspace_is_refused_at_trigger(db_access: None, name: str) -> None:
    definition = f"release: {name!r}\nartifacts:\n  core: 1.0.0-1\n"

    assert refused("sfp-release", {"target_org": "t-staging", "release_definition": definition}) == (
        f"release_definition: Value error, release definition is malformed: release: Value error, {NOT_A_RELEASE_NAME}"
    )


@pytest.mark.parametrize("name", BAD_RELEASE_NAMES)
def test_a_release_name_to_generate_that_leaves_the_workspace_is_refused_at_trigger(db_access: None, name: str) -> None:
    problem = refused("sfp-release-definition", {"repository": REPOSITORY, "release_name": name})

    assert problem == f"release_name: Value error, {NOT_A_RELEASE_NAME}"


@pytest.mark.parametrize("name", BAD_RELEASE_NAMES)
def test_a_release_file_is_built_only_inside_its_directory(tmp_path: Path, name: str) -> None:
    with pytest.raises(releasedef.ReleaseDefinitionError):
        releasedef.release_file(tmp_path / "release", name)
    assert releasedef.release_file(tmp_path / "release", "Sprint-12.1_hotfix") == (
        tmp_path.resolve() / "release" / "Sprint-12.1_hotfix.yml"
    )
