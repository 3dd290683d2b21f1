"""Every sfp operation is a task type of `POST tasks`, validated by its own input model: a valid payload starts
the type's workflow, an invalid one is refused naming the field (`data.<field>`) and records nothing; the
OpenAPI schema lists every type with its fields."""

from __future__ import annotations

from typing import Any

import pytest

from sfpserver.engine.models import WorkflowRun
from sfpserver.submissions import task_types
from tasks.inputs import PATH_PATTERN
from tests.api.conftest import Personas
from tests.api.helpers import operation_id, row_counts, submit

pytestmark = pytest.mark.django_db

REPO = {"url": "https://github.com/acme/core.git"}
RELEASE = "release: sprint-12\nartifacts:\n  core: 1.0.0-1\n"

VALID: dict[str, dict[str, Any]] = {
    "demo": {"repository": "core"},
    "build": {"repository": REPO, "devhub": "t-devhub"},
    "quickbuild": {"repository": REPO, "devhub": "t-devhub", "packages": ["core"]},
    "install": {"repository": REPO, "devhub": "t-devhub", "target_org": "t-staging"},
    "validate": {"repository": REPO, "target_org": "t-staging", "mode": "fastfeedback"},
    "release": {"target_org": "t-staging", "release_definition": RELEASE},
    "releaseDefinition": {"repository": REPO, "release_name": "sprint-12"},
    "poolPrepare": {"repository": REPO, "devhub": "t-devhub"},
    "sourceTracking": {"repository": REPO, "target_org": "t-staging", "direction": "pull"},
    "environment": {"environment": "t-staging", "action": "lock", "duration_minutes": 30},
    "impactAnalysis": {"repository": REPO},
    "apexTests": {"target_org": "t-staging", "test_level": "RunAllTestsInOrg"},
    "bulkMetadata": {"target_org": "t-staging", "operations": ["profile retrieve"]},
    "releasePipeline": {
        "repository": REPO,
        "devhub": "t-devhub",
        "staging_org": "t-staging",
        "production_org": "t-production",
    },
    "codeAnalysis": {"repositories": [REPO]},
    "orgHealth": {"org": "t-staging"},
    "healthCheck": {},
    "cacheRefresh": {"stale_workspace_hours": 12},
}

INVALID: dict[str, tuple[dict[str, Any], dict[str, str]]] = {
    "demo": ({"repo": "core"}, {"data.repo": "Extra inputs are not permitted"}),
    "build": ({"repository": REPO}, {"data.devhub": "Field required"}),
    "quickbuild": (
        {"repository": REPO, "devhub": "t-devhub", "build_number": 0},
        {"data.build_number": "Input should be greater than or equal to 1"},
    ),
    "install": ({"repository": REPO, "devhub": "t-devhub"}, {"data.target_org": "Field required"}),
    "validate": (
        {"repository": REPO, "target_org": "t-staging", "mode": "sloppy"},
        {
            "data.mode": "Input should be 'individual', 'fastfeedback', 'thorough', 'ff-release-config' or "
            "'thorough-release-config'"
        },
    ),
    "release": (
        {"target_org": "t-staging"},
        {"data": "give either release_definition (YAML) or release_definition_path (with repository)"},
    ),
    "releaseDefinition": ({"repository": REPO}, {"data.release_name": "Field required"}),
    "poolPrepare": (
        {"repository": REPO, "devhub": "t-devhub", "pool_config": "../secrets.json"},
        {"data.pool_config": f"String should match pattern '{PATH_PATTERN}'"},
    ),
    "sourceTracking": (
        {"repository": REPO, "target_org": "t-staging", "direction": "sideways"},
        {"data.direction": "Input should be 'pull' or 'push'"},
    ),
    "environment": (
        {"environment": "t-staging", "action": "unlock"},
        {"data": "unlock needs the ticket that lock returned"},
    ),
    "impactAnalysis": ({}, {"data.repository": "Field required"}),
    "apexTests": (
        {"target_org": "t-staging", "test_level": "RunSomeTests"},
        {
            "data.test_level": "Input should be 'RunLocalTests', 'RunAllTestsInOrg', 'RunAllTestsInPackage', "
            "'RunApexTestSuite' or 'RunSpecifiedTests'"
        },
    ),
    "bulkMetadata": (
        {"target_org": "t-staging", "operations": []},
        {"data.operations": "List should have at least 1 item after validation, not 0"},
    ),
    "releasePipeline": (
        {"repository": REPO, "devhub": "t-devhub", "staging_org": "t-staging"},
        {"data.production_org": "Field required"},
    ),
    "codeAnalysis": ({"fail_on": ["Bad!"]}, {"data.fail_on.0": "String should match pattern '^[a-z0-9-]+$'"}),
    "orgHealth": ({"org": "t-staging", "orgs": []}, {"data.orgs": "Extra inputs are not permitted"}),
    "healthCheck": ({"orgs": "all"}, {"data.orgs": "Input should be a valid list"}),
    "cacheRefresh": ({"stale_workspace_hours": 0}, {"data.stale_workspace_hours": "Input should be greater than 0"}),
}
SFP_TYPES = sorted(VALID)


def test_every_sfp_operation_is_a_task_type_and_each_is_tested_here() -> None:
    types = {name for name in task_types.known_types() if not name.startswith("test.")}
    assert types == set(VALID) == set(INVALID)
    assert len(types) == 18


@pytest.mark.parametrize("task_type", SFP_TYPES)
def test_each_task_type_starts_its_workflow_with_a_valid_payload(personas: Personas, task_type: str) -> None:
    op_id = operation_id(submit(personas.member.client, {"type": task_type, "data": VALID[task_type]}))
    run = WorkflowRun.objects.get(id=op_id)
    assert run.workflow_name == task_types.TASK_TYPES[task_type].workflow
    model = task_types.input_model(task_types.TASK_TYPES[task_type])
    assert run.input == model.model_validate(VALID[task_type]).model_dump(mode="json")  # with its defaults
    status = personas.member.client.get(f"/sfp/api/tasks/{op_id}/status").json()
    assert status == {"status": "pending", "progress": 0, "error": None, "runId": op_id, "continuedFailures": []}


@pytest.mark.parametrize("task_type", SFP_TYPES)
def test_each_task_type_refuses_an_invalid_payload_naming_the_field(personas: Personas, task_type: str) -> None:
    data, detail = INVALID[task_type]
    before = row_counts()
    response = submit(personas.app.client, {"type": task_type, "data": data})
    assert (response.status_code, response.json()) == (400, {"error": "invalid_input", "detail": detail})
    assert row_counts() == before


def test_every_field_at_fault_is_named_at_once(personas: Personas) -> None:
    response = submit(personas.app.client, {"type": "install", "data": {"repository": {"ref": "main"}}})
    assert (response.status_code, response.json()) == (
        400,
        {
            "error": "invalid_input",
            "detail": {
                "data.repository.url": "Field required",
                "data.devhub": "Field required",
                "data.target_org": "Field required",
            },
        },
    )


def test_a_scheduled_or_recurring_task_is_validated_as_an_immediate_one(personas: Personas) -> None:
    before = row_counts()
    for timing in ({"scheduledFor": "2999-01-01T00:00:00Z"}, {"recurrenceConfig": {"cron": "0 2 * * *"}}):
        response = submit(personas.app.client, {"type": "build", "data": {"repository": REPO}, **timing})
        assert (response.status_code, response.json()) == (
            400,
            {"error": "invalid_input", "detail": {"data.devhub": "Field required"}},
        )
    assert row_counts() == before


def test_the_schema_lists_every_type_and_shows_each_types_fields(personas: Personas) -> None:
    schema = personas.member.client.get("/sfp/api/schema/?format=json").json()
    components = schema["components"]["schemas"]
    body = schema["paths"]["/sfp/api/tasks"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    mapping = body["discriminator"]["mapping"]
    assert body["discriminator"]["propertyName"] == "type"
    assert set(SFP_TYPES) <= set(mapping)
    assert [one["properties"]["type"]["enum"] for one in body["anyOf"]] == [[name] for name in mapping]
    type_enum = components["SubmitTaskRequest"]["properties"]["type"]["allOf"][0]["$ref"].rsplit("/", 1)[1]
    assert set(SFP_TYPES) <= set(components[type_enum]["enum"])

    def fields(task_type: str) -> tuple[list[str], list[str]]:
        own = components[mapping[task_type].rsplit("/", 1)[1]]["properties"]
        assert own["type"]["enum"] == [task_type]
        model = components[own["data"]["$ref"].rsplit("/", 1)[1]]
        return sorted(model["properties"]), sorted(model.get("required", []))

    assert fields("sourceTracking") == (
        ["direction", "ignore_conflicts", "packages", "repository", "simulate", "target_org"],
        ["direction", "repository", "target_org"],
    )
    assert fields("demo") == (["repository"], [])
    assert fields("build") == fields("quickbuild")
