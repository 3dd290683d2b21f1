"""Credentials over the API: owner only, write-only (no response or error ever shows a secret), and the
workers' lease endpoint for application tokens (the one answer that carries secrets, by design)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from uuid import uuid4

import pytest

from sfpserver.vault import services
from sfpserver.vault.models import CredentialAudit
from tests.api.conftest import Personas
from tests.vault.conftest import SFDX_META, SFDX_URL, Running, start_step, unique, worker_row

__all__ = ["start_step", "worker_row"]  # the vault tests' fixtures: steps really RUNNING on a worker row

pytestmark = pytest.mark.usefixtures("db_access")

SECRET = "s3cr3t-value-that-must-never-show"


@pytest.fixture
def personas(live_db: None) -> Personas:  # committed tokens: the lease tests start steps through the engine
    from tests.api.conftest import make_personas

    return make_personas()


def body_of(response: Any) -> str:
    return response.content.decode()


def assert_no_secret(response: Any, *secrets: str) -> None:
    for secret in (SECRET, SFDX_URL, *secrets):
        assert secret not in body_of(response)
    assert "secret" not in (json.loads(body_of(response)) if response.content else {})


def create(personas: Personas, name: str, secret: str = SECRET, **extra: Any) -> Any:
    body = {"kind": "generic", "name": name, "secret": secret, **extra}
    return personas.owner.client.post("/sfp/api/credentials", body, format="json")


def test_the_owner_creates_a_credential_and_sees_everything_but_its_value(personas: Personas) -> None:
    name = unique("api")
    response = create(personas, name, metadata={"purpose": "ci"})
    assert_no_secret(response)
    described = response.json()
    assert response.status_code == 201
    assert set(described) == {"kind", "name", "fingerprint", "metadata", "created_at", "rotated_at", "last_used_at"}
    assert (described["kind"], described["name"], described["metadata"]) == ("generic", name, {"purpose": "ci"})
    assert (described["rotated_at"], described["last_used_at"]) == (None, None)
    fetched = personas.owner.client.get(f"/sfp/api/credentials/{name}")
    assert_no_secret(fetched)
    assert fetched.json() == described
    listed = personas.owner.client.get("/sfp/api/credentials?kind=generic")
    assert_no_secret(listed)
    assert described in listed.json()


def test_an_sfdx_credential_is_stored_with_its_metadata_and_never_shown(personas: Personas) -> None:
    name = unique("org")
    body = {"kind": "sfdx_auth_url", "name": name, "secret": SFDX_URL, "metadata": SFDX_META}
    response = personas.owner.client.post("/sfp/api/credentials", body, format="json")
    assert_no_secret(response)
    assert response.status_code == 201
    assert response.json()["metadata"]["username"] == "ci@acme.com"


def test_the_destinations_a_credential_may_reach_are_shown_in_every_answer(personas: Personas) -> None:
    name = unique("gh")
    body = {"kind": "github_token", "name": name, "secret": "ghp_" + "a1B2" * 10}
    created = personas.owner.client.post(
        "/sfp/api/credentials", {**body, "metadata": {"allowed_hosts": ["git.acme.com"]}}, format="json"
    )
    assert created.json()["metadata"] == {"token_type": "pat", "allowed_hosts": ["git.acme.com"]}
    assert personas.owner.client.get(f"/sfp/api/credentials/{name}").json()["metadata"]["allowed_hosts"] == [
        "git.acme.com"
    ]
    listed = personas.owner.client.get("/sfp/api/credentials?kind=github_token").json()
    assert {"token_type": "pat", "allowed_hosts": ["git.acme.com"]} in [
        c["metadata"] for c in listed if c["name"] == name
    ]
    replaced = personas.owner.client.put(
        f"/sfp/api/credentials/{name}", {"kind": "github_token", "secret": body["secret"]}, format="json"
    )
    assert replaced.json()["metadata"] == {"token_type": "pat", "allowed_hosts": ["github.com"]}  # the default


def test_put_replaces_the_value_a_rotation_with_a_new_fingerprint(personas: Personas) -> None:
    name = unique("api")
    first = create(personas, name).json()
    response = personas.owner.client.put(
        f"/sfp/api/credentials/{name}", {"kind": "generic", "secret": "another-value"}, format="json"
    )
    assert_no_secret(response, "another-value")
    assert response.status_code == 200
    assert response.json()["fingerprint"] != first["fingerprint"]
    assert response.json()["created_at"] == first["created_at"]
    assert response.json()["rotated_at"] is not None


def test_put_on_a_credential_that_does_not_exist_answers_404(personas: Personas) -> None:
    name = unique("nobody")
    response = personas.owner.client.put(
        f"/sfp/api/credentials/{name}", {"kind": "generic", "secret": SECRET}, format="json"
    )
    assert_no_secret(response)
    assert (response.status_code, response.json()) == (
        404,
        {"error": "credential_missing", "detail": f"credential {name!r} does not exist in the vault"},
    )
    assert not services.exists(name)


def test_creating_a_name_that_exists_answers_409_and_keeps_the_value(personas: Personas) -> None:
    name = unique("api")
    fingerprint = create(personas, name).json()["fingerprint"]
    response = create(personas, name, secret="other-value")
    assert_no_secret(response, "other-value")
    assert (response.status_code, response.json()) == (
        409,
        {
            "error": "invalid_state",
            "detail": f"credential {name!r} already exists; PUT /sfp/api/credentials/{name} replaces it",
        },
    )
    assert services.describe(name)["fingerprint"] == fingerprint


def test_delete_removes_the_credential_then_answers_404(personas: Personas) -> None:
    name = unique("api")
    create(personas, name)
    assert personas.owner.client.delete(f"/sfp/api/credentials/{name}").status_code == 204
    assert not services.exists(name)
    again = personas.owner.client.delete(f"/sfp/api/credentials/{name}")
    assert (again.status_code, again.json()) == (
        404,
        {"error": "credential_missing", "detail": f"credential {name!r} does not exist in the vault"},
    )


@pytest.mark.parametrize(
    ("extra", "field", "problem"),
    [
        (
            {"kind": "password"},
            "kind",
            "must be one of sfdx_auth_url, github_token, npm_token, package_install_key, generic",
        ),
        ({"name": "-bad name"}, "name", "use 1-200 letters, digits or `._@:-`, starting with a letter or digit"),
        ({"metadata": {"note": SECRET}}, "metadata", "must not contain the secret or any part of it"),
        ({"kind": "npm_token", "secret": f"{SECRET} with spaces"}, "secret", "an npm token contains no whitespace"),
        (
            {"kind": "npm_token", "secret": "npm_" + "a1" * 18, "metadata": {"registry": "http://registry.npmjs.org"}},
            "metadata.registry",
            "must be an https:// registry URL without credentials (http:// is refused)",
        ),
        (
            {
                "kind": "github_token",
                "secret": "ghp_" + "a1" * 18,
                "metadata": {"allowed_hosts": ["https://x.example"]},
            },
            "metadata.allowed_hosts",
            "each entry must be a host name such as github.com (a port may follow)",
        ),
    ],
)
def test_an_invalid_credential_answers_400_naming_the_field_without_the_value(
    personas: Personas, extra: dict[str, Any], field: str, problem: str
) -> None:
    body = {"kind": "generic", "name": unique("bad"), "secret": SECRET, **extra}
    response = personas.owner.client.post("/sfp/api/credentials", body, format="json")
    assert_no_secret(response, f"{SECRET} with spaces")
    assert (response.status_code, response.json()) == (400, {"error": "invalid_input", "detail": {field: problem}})


def test_a_request_without_a_secret_or_with_unknown_fields_names_them(personas: Personas) -> None:
    response = personas.owner.client.post(
        "/sfp/api/credentials", {"kind": "generic", "name": unique(), "value": SECRET}, format="json"
    )
    assert_no_secret(response)
    assert (response.status_code, response.json()) == (
        400,
        {"error": "invalid_input", "detail": {"value": "unknown field"}},
    )
    response = personas.owner.client.post("/sfp/api/credentials", {"kind": "generic", "name": unique()}, format="json")
    assert (response.status_code, response.json()) == (
        400,
        {"error": "invalid_input", "detail": {"secret": "This field is required."}},
    )


REFUSED = {
    "error": "permission_denied",
    "detail": "this needs a token with the role owner (write credentials)",
}


@pytest.mark.parametrize("role", ["member", "app", "outsider"])
def test_only_the_owner_manages_credentials(personas: Personas, role: str) -> None:
    name = unique("api")
    create(personas, name)
    client = getattr(personas, role).client
    answers = [
        client.get("/sfp/api/credentials"),
        client.post("/sfp/api/credentials", {"kind": "generic", "name": unique(), "secret": SECRET}, format="json"),
        client.get(f"/sfp/api/credentials/{name}"),
        client.put(f"/sfp/api/credentials/{name}", {"kind": "generic", "secret": "x-value"}, format="json"),
        client.delete(f"/sfp/api/credentials/{name}"),
    ]
    for response in answers:
        assert_no_secret(response)
        assert (response.status_code, response.json()) == (403, REFUSED)
    assert services.describe(name)["rotated_at"] is None


def test_without_a_token_the_credentials_answer_401(anonymous: Any) -> None:
    response = anonymous.get("/sfp/api/credentials")
    assert response.status_code == 401
    assert response.json()["error"] == "not_authenticated"


# --- the workers' lease endpoint --------------------------------------------------------------------------------


@pytest.fixture
def endpoint_on(settings: Any) -> None:
    settings.VAULT_LEASE_ENDPOINT = True  # the deploy files turn it on for the API their workers lease from


def lease_body(step: Running, names: list[str], **changes: Any) -> dict[str, Any]:
    body = {
        "step_id": str(step.step_id),
        "attempt": step.attempt,
        "worker_id": str(step.worker_id),
        "lease_secret": step.secret,
        "names": names,
    }
    return {**body, **changes}


def lease(client: Any, body: dict[str, Any]) -> Any:
    return client.post("/sfp/api/internal/leases", body, format="json")


def refused(reason: str) -> dict[str, str]:
    return {"error": "lease_refused", "detail": f"credential lease refused: {reason}"}


@pytest.mark.usefixtures("endpoint_on")
def test_the_worker_holding_the_attempts_secret_leases_its_declared_credentials(
    personas: Personas, start_step: Callable[..., Running]
) -> None:
    name = unique("api")
    create(personas, name)
    step = start_step([name])
    response = lease(personas.app.client, lease_body(step, [name]))
    assert (response.status_code, response.json()) == (200, {"credentials": {name: SECRET}})
    assert response["Cache-Control"] == "no-store"
    assert services.describe(name)["last_used_at"] is not None


@pytest.mark.usefixtures("endpoint_on")
def test_a_foreign_application_token_cannot_lease_a_running_step_it_can_see_everything_of(
    personas: Personas, start_step: Callable[..., Running]
) -> None:
    """The attack: an application token that has nothing to do with the run, knowing the step id, the attempt
    and the worker id (once shown by GET /workers), asks for the running step's declared credential."""
    name = unique("api")
    create(personas, name)
    step = start_step([name])
    near_miss = step.secret[:-1] + ("B" if step.secret[-1] != "B" else "C")  # one character off (never equal)
    for guess in ({"lease_secret": "x" * 43}, {"lease_secret": near_miss}):
        response = lease(personas.app.client, lease_body(step, [name], **guess))
        assert_no_secret(response)
        assert (response.status_code, response.json()) == (
            403,
            refused(f"no attempt of step {step.step_id} holds this lease secret"),
        )
    without = lease_body(step, [name])
    del without["lease_secret"]
    response = lease(personas.app.client, without)
    assert (response.status_code, response.json()) == (
        400,
        {"error": "invalid_input", "detail": {"lease_secret": "This field is required."}},
    )
    assert services.describe(name)["last_used_at"] is None
    audited = CredentialAudit.objects.filter(step_id=step.step_id).values_list("granted", "credential_names")
    assert list(audited) == [(False, [name]), (False, [name])]  # one row per refused request, none for the 400


@pytest.mark.usefixtures("endpoint_on")
def test_a_lease_for_an_undeclared_credential_is_refused_without_any_secret(
    personas: Personas, start_step: Callable[..., Running]
) -> None:
    name = unique("api")
    create(personas, name)
    step = start_step([])
    response = lease(personas.app.client, lease_body(step, [name]))
    assert_no_secret(response)
    reason = f"step 'use' did not declare credential(s) {name!r} in its args['credentials']"
    assert (response.status_code, response.json()) == (403, refused(reason))


@pytest.mark.usefixtures("endpoint_on")
def test_a_lease_from_another_worker_is_refused(personas: Personas, start_step: Callable[..., Running]) -> None:
    name = unique("api")
    create(personas, name)
    step = start_step([name])
    stranger = uuid4()
    response = lease(personas.app.client, lease_body(step, [name], worker_id=str(stranger)))
    assert_no_secret(response)
    assert (response.status_code, response.json()) == (
        403,
        refused(f"step 'use' attempt 0 is not running on worker {stranger}"),
    )


@pytest.mark.usefixtures("endpoint_on")
def test_a_lease_of_a_missing_credential_answers_404_naming_it(
    personas: Personas, start_step: Callable[..., Running]
) -> None:
    name = unique("gone")
    step = start_step([name])
    response = lease(personas.app.client, lease_body(step, [name]))
    assert (response.status_code, response.json()) == (
        404,
        {"error": "credential_missing", "detail": f"credential {name!r} does not exist in the vault"},
    )


@pytest.mark.usefixtures("endpoint_on")
@pytest.mark.parametrize("role", ["owner", "member"])
def test_only_application_tokens_may_lease(personas: Personas, start_step: Callable[..., Running], role: str) -> None:
    name = unique("api")
    create(personas, name)
    step = start_step([name])
    response = lease(getattr(personas, role).client, lease_body(step, [name]))
    assert_no_secret(response)
    assert (response.status_code, response.json()) == (
        403,
        {
            "error": "permission_denied",
            "detail": "this needs a token with the role application (use the internal worker endpoints)",
        },
    )


@pytest.mark.parametrize("role", ["owner", "member", "app"])
def test_without_http_leasing_configured_the_lease_endpoint_does_not_exist(
    personas: Personas, start_step: Callable[..., Running], role: str, settings: Any
) -> None:
    settings.VAULT_LEASE_ENDPOINT = False
    name = unique("api")
    create(personas, name)
    step = start_step([name])
    response = lease(getattr(personas, role).client, lease_body(step, [name]))
    assert (response.status_code, response.json()) == (
        404,
        {"error": "not_found", "detail": "no such resource: /sfp/api/internal/leases"},
    )


@pytest.mark.usefixtures("endpoint_on")
def test_a_malformed_lease_request_names_its_fields(personas: Personas) -> None:
    response = lease(personas.app.client, {"step_id": "x", "attempt": -1, "lease_secret": "short", "names": []})
    assert (response.status_code, response.json()) == (
        400,
        {
            "error": "invalid_input",
            "detail": {
                "step_id": "Must be a valid UUID.",
                "attempt": "Ensure this value is greater than or equal to 0.",
                "worker_id": "This field is required.",
                "lease_secret": "Ensure this field has at least 16 characters.",
                "names": "This list may not be empty.",
            },
        },
    )


@pytest.mark.usefixtures("endpoint_on")
def test_a_lease_request_caps_its_names_and_attempt_and_writes_no_audit_row(
    personas: Personas, start_step: Callable[..., Running]
) -> None:
    step = start_step([])
    flood = lease_body(step, [f"n{i}" for i in range(33)], attempt=2**31)
    response = lease(personas.app.client, flood)
    assert (response.status_code, response.json()) == (
        400,
        {
            "error": "invalid_input",
            "detail": {
                "attempt": "Ensure this value is less than or equal to 100000.",
                "names": "Ensure this field has no more than 32 elements.",
            },
        },
    )
    odd = lease(personas.app.client, lease_body(step, ["../etc", "x" * 201]))
    assert (odd.status_code, odd.json()) == (
        400,
        {
            "error": "invalid_input",
            "detail": {
                "names.0": "use 1-200 letters, digits or `._@:-`, starting with a letter or digit",
                "names.1": "Ensure this field has no more than 200 characters.; "
                "use 1-200 letters, digits or `._@:-`, starting with a letter or digit",
            },
        },
    )
    assert not CredentialAudit.objects.filter(step_id=step.step_id).exists()
