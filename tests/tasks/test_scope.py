"""A credential goes only where it is meant to go: an input naming one for another use or destination is
refused at trigger (SDK/engine and REST) naming the field, with nothing recorded; a worker checks again
before git, npm or the CLI sees the value; git's token helper answers for one https host only; file://
repositories come only from under SFP_FILE_REPOSITORY_ROOT."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import transaction
from django.test import override_settings

from sfpserver.engine.exceptions import InvalidInputError
from sfpserver.engine.models import WorkflowRun
from sfpserver.engine.trigger import trigger
from sfpserver.vault import services
from tasks.sample_repo import SampleRepository
from tasks.sfp import git
from tasks.sfp.workspace import Workspace
from tests.api.conftest import make_personas
from tests.api.helpers import row_counts
from tests.engine.helpers import attempts, steps, wait_for_run
from tests.tasks.conftest import Org

ATTACKER = "https://attacker.example/x.git"
REFUSED_HOST = "it may reach github.com only, not attacker.example"


def github_token(allowed_hosts: list[str] | None = None) -> str:
    name = f"gh-{uuid.uuid4().hex[:8]}"
    metadata = {"allowed_hosts": allowed_hosts} if allowed_hosts else None
    services.store("github_token", name, f"ghp_{uuid.uuid4().hex}{uuid.uuid4().hex[:6]}", metadata=metadata)
    return name


def npm_token() -> str:
    name = f"npm-{uuid.uuid4().hex[:8]}"
    services.store("npm_token", name, f"npm_{uuid.uuid4().hex}")
    return name


def refused_at_trigger(workflow: str, input: dict[str, object]) -> str:
    before = WorkflowRun.objects.count()
    with pytest.raises(InvalidInputError) as refused:
        trigger(workflow, input)
    assert WorkflowRun.objects.count() == before
    return refused.value.problem


# --- at trigger ---------------------------------------------------------------------------------------------


@pytest.mark.usefixtures("db_access")
def test_a_token_bound_to_github_is_refused_for_another_host_at_trigger() -> None:
    token = github_token()
    problem = refused_at_trigger("sfp-impact", {"repository": {"url": ATTACKER, "token_credential": token}})
    assert problem == (
        f"repository.token_credential: Value error, credential {token!r} cannot be used here: {REFUSED_HOST}"
    )


@pytest.mark.usefixtures("db_access")
def test_a_token_bound_to_github_is_refused_through_the_task_api_naming_the_field() -> None:
    token, owner = github_token(), make_personas().owner
    before = row_counts()
    response = owner.client.post(
        "/sfp/api/tasks",
        {"type": "impactAnalysis", "data": {"repository": {"url": ATTACKER, "token_credential": token}}},
        format="json",
    )
    assert (response.status_code, response.json()) == (
        400,
        {
            "error": "invalid_input",
            "detail": {
                "data.repository.token_credential": f"credential {token!r} cannot be used here: " + REFUSED_HOST
            },
        },
    )
    assert row_counts() == before


@pytest.mark.usefixtures("db_access")
def test_a_token_allowed_for_a_host_may_name_it() -> None:
    token = github_token(["git.acme.com"])
    with transaction.atomic():  # validated and recorded, then rolled back: nothing reaches a worker
        run_id = trigger("sfp-impact", {"repository": {"url": "https://git.acme.com/x.git", "token_credential": token}})
        assert WorkflowRun.objects.filter(id=run_id).exists()
        transaction.set_rollback(True)


@pytest.mark.usefixtures("db_access")
def test_an_org_credential_named_where_a_git_token_is_expected_is_refused(orgs: dict[str, Org]) -> None:
    url = "https://github.com/acme/x.git"
    problem = refused_at_trigger("sfp-impact", {"repository": {"url": url, "token_credential": "t-staging"}})
    assert problem == (
        "repository.token_credential: Value error, credential 't-staging' cannot be used here: "
        "it is of kind sfdx_auth_url, and only kind github_token may authenticate git over https"
    )


@pytest.mark.usefixtures("db_access")
def test_a_git_token_named_as_an_org_is_refused(sample: SampleRepository, orgs: dict[str, Org]) -> None:
    token = github_token()
    problem = refused_at_trigger(
        "sfp-install", {"repository": {"url": sample.url}, "devhub": "t-devhub", "target_org": token}
    )
    assert problem == (
        f"target_org: Value error, credential {token!r} cannot be used here: "
        "it is of kind github_token, and only kind sfdx_auth_url may log in to a Salesforce org"
    )


@pytest.mark.usefixtures("db_access")
def test_an_npm_token_is_refused_for_another_registry(orgs: dict[str, Org]) -> None:
    token = npm_token()
    problem = refused_at_trigger(
        "sfp-release",
        {
            "target_org": "t-staging",
            "release_definition": "release: r1\nartifacts:\n  core: 1.0.0-1\n",
            "npm_scope": "@acme",
            "npm_registry": "https://npm.attacker.example/",
            "npm_token_credential": token,
        },
    )
    assert problem == (
        f"npm_token_credential: Value error, credential {token!r} cannot be used here: "
        "it is a token for https://registry.npmjs.org only, not for https://npm.attacker.example"
    )


@pytest.mark.usefixtures("db_access")
def test_an_http_registry_is_refused(orgs: dict[str, Org]) -> None:
    problem = refused_at_trigger(
        "sfp-release",
        {
            "target_org": "t-staging",
            "release_definition": "release: r1\nartifacts:\n  core: 1.0.0-1\n",
            "npm_scope": "@acme",
            "npm_registry": "http://registry.npmjs.org/",
        },
    )
    assert problem == "npm_registry: String should match pattern '^https://[^\\s@]+$'"


@pytest.mark.usefixtures("db_access")
def test_an_http_repository_is_refused() -> None:
    problem = refused_at_trigger("sfp-impact", {"repository": {"url": "http://github.com/acme/x.git"}})
    assert problem == (
        "repository.url: Value error, repository URL 'http://github.com/acme/x.git': "
        "only file://, ssh:// and https:// URLs are cloned"
    )


@pytest.mark.usefixtures("db_access")
def test_a_file_repository_outside_the_root_is_refused_at_trigger(tmp_path: Path) -> None:
    root = os.environ["SFP_FILE_REPOSITORY_ROOT"]
    problem = refused_at_trigger("sfp-impact", {"repository": {"url": "file:///etc/x.git"}})
    assert problem == (
        f"repository.url: Value error, repository URL 'file:///etc/x.git': "
        f"file:// repositories are allowed only under {root}"
    )


# --- file:// root --------------------------------------------------------------------------------------------


def test_file_repositories_are_cloned_only_from_under_the_configured_root(tmp_path: Path) -> None:
    inside, outside = tmp_path / "repos" / "x.git", tmp_path / "elsewhere" / "x.git"
    (tmp_path / "repos").mkdir()
    (tmp_path / "repos" / "escape").symlink_to(tmp_path / "elsewhere")
    with override_settings(SFP_FILE_REPOSITORY_ROOT=str(tmp_path / "repos")):
        assert git.check_url(f"file://{inside}") == f"file://{inside}"
        for url in (
            f"file://{outside}",
            f"file://{tmp_path}/repos/../elsewhere/x.git",
            f"file://{tmp_path}/repos/escape/x.git",
        ):
            with pytest.raises(git.RepositoryError, match="file:// repositories are allowed only under"):
                git.check_url(url)
    with override_settings(SFP_FILE_REPOSITORY_ROOT=""), pytest.raises(git.RepositoryError) as refused:
        git.check_url(f"file://{inside}")
    assert str(refused.value) == (
        f"repository URL 'file://{inside}': "
        "file:// repositories are not allowed here (SFP_FILE_REPOSITORY_ROOT is unset)"
    )


# --- the git credential helper -------------------------------------------------------------------------------


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    workspace = Workspace(tmp_path / "ws")
    workspace.home.mkdir(parents=True)
    yield workspace


def helpers_for(env: dict[str, str], url: str, cwd: Path) -> list[str]:
    """What real git resolves `credential.helper` to for `url`, under `env`."""
    done = subprocess.run(
        ["git", "config", "--get-urlmatch", "credential.helper", url], env=env, cwd=cwd, capture_output=True, text=True
    )
    return [line for line in done.stdout.splitlines() if line]


def test_the_token_helper_answers_for_the_repository_host_only(ws: Workspace) -> None:
    env = git.git_env(ws, token="ghp_secret", url="https://github.com/acme/x.git")
    assert {
        key: value for key, value in env.items() if key.startswith("GIT_CONFIG_") and key != "GIT_CONFIG_NOSYSTEM"
    } == {
        "GIT_CONFIG_COUNT": "2",
        "GIT_CONFIG_KEY_0": "credential.helper",
        "GIT_CONFIG_VALUE_0": "",
        "GIT_CONFIG_KEY_1": "credential.https://github.com.helper",
        "GIT_CONFIG_VALUE_1": git.TOKEN_HELPER,
    }
    assert helpers_for(env, "https://github.com/acme/other.git", ws.root) == [git.TOKEN_HELPER]
    assert helpers_for(env, "https://attacker.example/x.git", ws.root) == []
    assert helpers_for(env, "http://github.com/acme/x.git", ws.root) == []


def test_a_local_or_ssh_clone_gets_no_token(ws: Workspace) -> None:
    for url in ("file:///tmp/x.git", "git@github.com:acme/x.git", "ssh://git@github.com/acme/x.git"):
        env = git.git_env(ws, token="ghp_secret", url=url)
        assert "SFP_GIT_TOKEN" not in env and "GIT_CONFIG_COUNT" not in env


# --- on the worker --------------------------------------------------------------------------------------------


@pytest.mark.usefixtures("platform")
def test_a_worker_refuses_a_destination_the_owner_withdrew_after_trigger_without_retrying() -> None:
    token = github_token(["attacker.example"])
    with transaction.atomic():  # validated against the old metadata; the worker sees the new one
        run_id = trigger("sfp-impact", {"repository": {"url": ATTACKER, "token_credential": token}})
        services.update_metadata(token, {"allowed_hosts": ["github.com"]})

    finished = wait_for_run(run_id, timeout=60)

    assert finished.status == "FAILED"
    step = steps(run_id)["impact"]
    assert len(attempts(step)) == 1  # the task allows a retry; none was used
    assert step.error == f"credential {token!r} cannot be used here: {REFUSED_HOST}"


@pytest.mark.usefixtures("platform")
def test_a_worker_refuses_an_org_replaced_by_another_kind_after_trigger(orgs: dict[str, Org]) -> None:
    name = f"t-org-{uuid.uuid4().hex[:8]}"
    services.store(
        "sfdx_auth_url", name, orgs["staging"].auth_url, metadata={"username": "a@b.c", "org_type": "sandbox"}
    )
    with transaction.atomic():
        run_id = trigger("sfp-org-health", {"org": name})
        services.store("generic", name, "not an org any more")

    finished = wait_for_run(run_id, timeout=60)

    assert finished.status == "FAILED"
    assert steps(run_id)["check_org"].error == (
        f"credential {name!r} cannot be used here: "
        "it is of kind generic, and only kind sfdx_auth_url may log in to a Salesforce org"
    )
