"""A GitHub webhook starts a build or a validation: a signed GitHub-style delivery is posted to the public
webhook endpoint, exactly as GitHub posts it (`X-GitHub-Event`, `X-Hub-Signature-256: sha256=<hex>`), and the
platform's pools run `github-push` / `github-pull-request` (tasks/workflows/github.py), which start `sfp-build`
/ `sfp-validate` on the Salesforce stand-in with the settings of the repository's event filter. A delivery
with a bad signature starts nothing."""

from __future__ import annotations

import hashlib
import hmac
import json
import subprocess
from collections.abc import Iterator
from typing import Any
from uuid import UUID, uuid4

import pytest
from rest_framework.test import APIClient

from sfpserver.engine.models import WorkflowRun
from sfpserver.hatchet.models import Event, EventFilter, Webhook
from tasks.sample_repo import SampleRepository
from tests.api.conftest import make_persona
from tests.conftest import wait_until
from tests.engine.helpers import wait_for_run
from tests.tasks.conftest import Org, output

pytestmark = pytest.mark.usefixtures("platform")

SIGNING_SECRET = "gh-webhook-s3cret"


@pytest.fixture
def repository() -> Iterator[str]:
    """The repository's full name, and its filters and webhook gone afterwards."""
    full_name = f"acme/core-{uuid4().hex[:8]}"
    yield full_name
    EventFilter.objects.filter(scope=full_name).delete()
    Webhook.objects.filter(name=f"github-{full_name.split('/')[1]}").delete()


def github_webhook(full_name: str) -> str:
    """The webhook a team sets up once (README "Webhooks: GitHub starts builds and validations")."""
    owner = make_persona(f"owner-{uuid4().hex[:6]}", "owner")
    name = f"github-{full_name.split('/')[1]}"
    response = owner.client.post(
        "/sfp/api/webhooks",
        {
            "name": name,
            "sourceName": "GITHUB",
            "eventKeyExpression": "'github:' + headers['x-github-event']",
            "scopeExpression": "input.repository.full_name",
            "authType": "HMAC",
            "auth": {
                "algorithm": "SHA256",
                "encoding": "HEX",
                "signatureHeaderName": "X-Hub-Signature-256",
                "signingSecret": SIGNING_SECRET,
            },
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    return name


def github_delivery(webhook: str, event: str, payload: dict[str, Any], secret: str = SIGNING_SECRET) -> Any:
    """What GitHub sends: the JSON body, signed with HMAC-SHA256 of the raw bytes."""
    body = json.dumps(payload).encode()
    signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return APIClient().post(
        f"/sfp/api/webhooks/{webhook}/deliveries",
        body,
        content_type="application/json",
        HTTP_X_GITHUB_EVENT=event,
        HTTP_X_GITHUB_DELIVERY=str(uuid4()),
        HTTP_X_HUB_SIGNATURE_256=signature,
    )


def head_of(sample: SampleRepository) -> str:
    return subprocess.check_output(["git", "-C", str(sample.origin), "rev-parse", "main"], text=True).strip()


def push_payload(full_name: str, sample: SampleRepository, ref: str = "refs/heads/main") -> dict[str, Any]:
    return {
        "ref": ref,
        "before": "0" * 40,
        "after": head_of(sample),
        "deleted": False,
        "repository": {"full_name": full_name, "clone_url": sample.url, "private": False},
        "pusher": {"name": "ada"},
        "head_commit": {"id": head_of(sample), "message": "change ui"},
    }


def started_by(event_id: str, workflow: str) -> WorkflowRun:
    return wait_until(
        lambda: WorkflowRun.objects.filter(
            workflow_name=workflow, additional_metadata__contains={"hatchet__event_id": event_id}
        ).first(),
        what=f"the {workflow} run of event {event_id}",
    )


def test_a_signed_github_push_starts_a_build_of_the_pushed_commit(
    repository: str, sample: SampleRepository, orgs: dict[str, Org]
) -> None:
    webhook = github_webhook(repository)
    EventFilter.objects.create(
        workflow_name="github-push",
        scope=repository,
        expression="input.ref == 'refs/heads/main'",
        payload={"devhub": orgs["devhub"].name},
    )
    response = github_delivery(webhook, "push", push_payload(repository, sample))
    assert response.status_code == 200, response.content
    event = response.json()["event"]
    assert (event["key"], event["scope"]) == ("github:push", repository)

    mapped = wait_for_run(started_by(event["metadata"]["id"], "github-push").id, timeout=60)
    started = output(mapped.id, "start_build")
    build = wait_for_run(UUID(started["build_run_id"]), timeout=120)
    assert (mapped.status, build.workflow_name, build.status) == ("COMPLETED", "sfp-build", "COMPLETED")
    assert build.input["repository"] == {
        "url": sample.url,
        "ref": head_of(sample),
        "token_credential": None,
        "ssh_key_credential": None,
    }
    assert (build.input["devhub"], build.input["branch"]) == (orgs["devhub"].name, "main")
    assert output(build.id, "build")["commit"] == head_of(sample)


def test_a_push_to_another_branch_starts_nothing_when_the_filter_says_main_only(
    repository: str, sample: SampleRepository
) -> None:
    webhook = github_webhook(repository)
    EventFilter.objects.create(
        workflow_name="github-push", scope=repository, expression="input.ref == 'refs/heads/main'", payload={}
    )
    response = github_delivery(webhook, "push", push_payload(repository, sample, ref="refs/heads/feature"))
    event_id = response.json()["event"]["metadata"]["id"]
    assert not WorkflowRun.objects.filter(additional_metadata__contains={"hatchet__event_id": event_id}).exists()


def test_a_github_delivery_with_a_bad_signature_starts_nothing(repository: str, sample: SampleRepository) -> None:
    webhook = github_webhook(repository)
    EventFilter.objects.create(workflow_name="github-push", scope=repository, expression="true", payload={})
    builds_before = WorkflowRun.objects.filter(workflow_name__in=["github-push", "sfp-build"]).count()
    response = github_delivery(webhook, "push", push_payload(repository, sample), secret="not-the-secret")
    assert (response.status_code, response.json()) == (
        403,
        {"error": "webhook_auth_failed", "detail": "invalid HMAC signature"},
    )
    assert not Event.objects.filter(triggering_webhook_name=webhook).exists()
    assert WorkflowRun.objects.filter(workflow_name__in=["github-push", "sfp-build"]).count() == builds_before


def test_an_opened_pull_request_starts_a_validation_of_its_head(
    repository: str, sample: SampleRepository, orgs: dict[str, Org]
) -> None:
    webhook = github_webhook(repository)
    EventFilter.objects.create(
        workflow_name="github-pull-request",
        scope=repository,
        expression="input.action in ['opened', 'synchronize', 'reopened']",
        payload={"target_org": orgs["staging"].name, "devhub": orgs["devhub"].name, "mode": "thorough"},
    )
    head = {"ref": "feature", "sha": head_of(sample)}
    payload = {
        "action": "opened",
        "number": 7,
        "pull_request": {"number": 7, "title": "Change ui", "head": head, "base": {"ref": "main", "sha": "0" * 40}},
        "repository": {"full_name": repository, "clone_url": sample.url},
    }
    closed = github_delivery(webhook, "pull_request", {**payload, "action": "closed"})
    response = github_delivery(webhook, "pull_request", payload)
    mapped = wait_for_run(started_by(response.json()["event"]["metadata"]["id"], "github-pull-request").id, timeout=60)
    validation = wait_for_run(UUID(output(mapped.id, "start_validation")["validate_run_id"]), timeout=120)
    assert (validation.workflow_name, validation.input["target_org"], validation.input["repository"]["ref"]) == (
        "sfp-validate",
        orgs["staging"].name,
        head_of(sample),
    )
    closed_id = closed.json()["event"]["metadata"]["id"]
    assert not WorkflowRun.objects.filter(additional_metadata__contains={"hatchet__event_id": closed_id}).exists()


def test_a_repository_without_build_settings_fails_its_run_saying_what_to_add(
    repository: str, sample: SampleRepository
) -> None:
    webhook = github_webhook(repository)
    EventFilter.objects.create(workflow_name="github-push", scope=repository, expression="true", payload={})
    response = github_delivery(webhook, "push", push_payload(repository, sample))
    mapped = wait_for_run(started_by(response.json()["event"]["metadata"]["id"], "github-push").id, timeout=60)
    assert mapped.status == "FAILED"
    assert f"create an event filter for workflow 'github-push' in scope '{repository}'" in mapped.error
