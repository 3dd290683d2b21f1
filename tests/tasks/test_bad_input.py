"""Operations that name something unusable are refused at trigger time, or fail at once (no retries), with an
error that says which and why and contains no secret."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from sfpserver.engine.exceptions import InvalidInputError
from sfpserver.engine.models import WorkflowRun
from sfpserver.engine.trigger import trigger
from sfpserver.vault import services
from tasks.sample_repo import SampleRepository
from tests.engine.helpers import attempts, steps
from tests.tasks.conftest import Org, run

pytestmark = pytest.mark.usefixtures("platform")


def install_input(
    sample: SampleRepository, orgs: dict[str, Org], target: str, **repository: object
) -> dict[str, object]:
    return {"repository": {"url": sample.url, **repository}, "devhub": orgs["devhub"].name, "target_org": target}


def failed_once(run_id: Any, step_name: str) -> str:
    step = steps(run_id)[step_name]
    assert step.status == "FAILED"
    assert len(attempts(step)) == 1  # the task allows a retry; none was used
    return str(step.error)


def test_an_unknown_org_fails_the_step_at_once_naming_it(sample: SampleRepository, orgs: dict[str, Org]) -> None:
    finished = run("sfp-install", install_input(sample, orgs, "no-such-org"))

    assert finished.status == "FAILED"
    assert (
        failed_once(finished.id, "install") == "unknown org or credential 'no-such-org': it does not exist in the vault"
    )


def test_a_missing_repository_token_fails_the_step_naming_the_credential(
    sample: SampleRepository, orgs: dict[str, Org]
) -> None:
    finished = run("sfp-install", install_input(sample, orgs, orgs["staging"].name, token_credential="gh-missing"))

    assert (
        failed_once(finished.id, "install") == "unknown org or credential 'gh-missing': it does not exist in the vault"
    )


def test_a_secret_that_is_not_an_auth_url_is_refused_as_an_org_at_trigger_without_showing_it(
    sample: SampleRepository, orgs: dict[str, Org]
) -> None:
    secret = f"not-an-auth-url-{uuid.uuid4().hex}"
    services.store("generic", "t-broken-org", secret, actor="tests")
    before = WorkflowRun.objects.count()

    with pytest.raises(InvalidInputError) as refused:
        trigger("sfp-install", install_input(sample, orgs, "t-broken-org"))

    assert str(refused.value) == (
        "input: target_org: Value error, credential 't-broken-org' cannot be used here: "
        "it is of kind generic, and only kind sfdx_auth_url may log in to a Salesforce org"
    )
    assert secret not in str(refused.value)
    assert WorkflowRun.objects.count() == before


def test_an_uncloneable_repository_fails_the_step_saying_why(tmp_path: object, orgs: dict[str, Org]) -> None:
    missing = f"file://{tmp_path}/nonexistent/{uuid.uuid4().hex}.git"  # under SFP_FILE_REPOSITORY_ROOT
    finished = run("sfp-impact", {"repository": {"url": missing}})

    error = failed_once(finished.id, "impact")
    assert error.startswith(f"cannot clone {missing}: ")
    assert "does not exist" in error or "not appear to be a git repository" in error


def test_a_ref_that_does_not_exist_fails_the_step_naming_it(sample: SampleRepository) -> None:
    finished = run("sfp-impact", {"repository": {"url": sample.url, "ref": "no-such-branch"}})

    assert failed_once(finished.id, "impact").startswith(f"ref 'no-such-branch' does not exist in {sample.url}")


def test_a_malformed_release_definition_is_refused_at_trigger(db_access: None) -> None:
    before = WorkflowRun.objects.count()
    definition = "release: r1\nartifacts:\n  core: not-a-version\n"

    with pytest.raises(InvalidInputError) as refused:
        trigger("sfp-release", {"target_org": "t-staging", "release_definition": definition})

    assert "release_definition: Value error, release definition is malformed: artifacts: " in str(refused.value)
    assert "package 'core': version 'not-a-version' is not X.Y.Z-build" in str(refused.value)
    assert WorkflowRun.objects.count() == before


def test_a_repository_url_with_a_password_is_refused_without_echoing_it(db_access: None) -> None:
    password = uuid.uuid4().hex
    with pytest.raises(InvalidInputError) as refused:
        trigger("sfp-impact", {"repository": {"url": f"https://bot:{password}@github.com/acme/repo.git"}})

    assert "repository.url: Value error, repository URL 'https://github.com/acme/repo.git' carries credentials" in str(
        refused.value
    )
    assert password not in str(refused.value)
