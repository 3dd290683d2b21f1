"""Incoming webhooks over HTTP: managed by owner tokens under /sfp/api/webhooks (no answer ever shows a
secret), and deliveries posted, without an API token, to the public endpoint, where the webhook's own basic
auth, API key or HMAC signature is the check. A delivery that passes becomes an event that starts the
workflows listening on its key (served by the routing test worker); one that fails records nothing."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterator
from typing import Any
from uuid import uuid4

import pytest
from rest_framework.test import APIClient

from sfpserver.engine.models import WorkflowRun
from sfpserver.hatchet.models import Event, Webhook
from tests.api.conftest import Personas, make_personas
from tests.conftest import wait_until
from tests.hatchet.conftest import routing_worker

__all__ = ["routing_worker"]

pytestmark = pytest.mark.usefixtures("routing_worker")

SECRET = "hook-s3cr3t-never-shown"
BODY = {"type": "test", "message": "Hello, world!"}


@pytest.fixture
def personas(live_db: None) -> Personas:
    return make_personas()


@pytest.fixture
def name() -> Iterator[str]:
    value = f"hook-{uuid4().hex[:12]}"
    yield value
    Webhook.objects.filter(name=value).delete()


def create(personas: Personas, name: str, auth_type: str, auth: dict[str, Any], **extra: Any) -> Any:
    body = {
        "name": name,
        "sourceName": "GENERIC",
        "eventKeyExpression": "'routing-hook:' + input.type",
        "authType": auth_type,
        "auth": auth,
        **extra,
    }
    return personas.owner.client.post("/sfp/api/webhooks", body, format="json")


def basic(personas: Personas, name: str, **extra: Any) -> Any:
    response = create(personas, name, "BASIC", {"username": "hooker", "password": SECRET}, **extra)
    assert response.status_code == 201, response.content
    return response


def deliver(name: str, body: Any = None, *, raw: bytes | None = None, **headers: Any) -> Any:
    data = raw if raw is not None else json.dumps(BODY if body is None else body).encode()
    return APIClient().post(f"/sfp/api/webhooks/{name}/deliveries", data, content_type="application/json", **headers)


def basic_header(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def hook_runs(event_id: str) -> list[WorkflowRun]:
    return list(WorkflowRun.objects.filter(additional_metadata__contains={"hatchet__event_id": event_id}))


def result_of(event_id: str) -> Any:
    run = wait_until(lambda: hook_runs(event_id)[0] if hook_runs(event_id) else None, what="the delivery's run")
    return wait_until(lambda: WorkflowRun.objects.get(id=run.id).output, timeout=30, what="the run's output")


# --- management -----------------------------------------------------------------------------------------------


def test_the_owner_creates_a_webhook_and_no_answer_shows_its_secret(personas: Personas, name: str) -> None:
    created = basic(personas, name, scopeExpression="input.type", staticPayload={"source": "ci"})
    listed = personas.owner.client.get("/sfp/api/webhooks")
    got = personas.owner.client.get(f"/sfp/api/webhooks/{name}")
    for response in (created, listed, got):
        assert SECRET not in response.content.decode()
    body = got.json()
    assert {k: body[k] for k in ("name", "sourceName", "authType", "scopeExpression", "staticPayload")} == {
        "name": name,
        "sourceName": "GENERIC",
        "authType": "BASIC",
        "scopeExpression": "input.type",
        "staticPayload": {"source": "ci"},
    }
    assert name in [row["name"] for row in listed.json()["rows"]]


def test_the_secret_is_stored_sealed_never_in_clear(personas: Personas, name: str) -> None:
    basic(personas, name)
    row = Webhook.objects.get(name=name)
    stored = b"".join([bytes(row.secret_ciphertext), bytes(row.secret_nonce), row.basic_username.encode()])
    assert SECRET.encode() not in stored and row.secret_key_id


def test_patch_changes_only_what_it_names_and_delete_removes_the_webhook(personas: Personas, name: str) -> None:
    basic(personas, name, scopeExpression="input.type")
    patched = personas.owner.client.patch(
        f"/sfp/api/webhooks/{name}", {"scopeExpression": "input.message"}, format="json"
    )
    assert (patched.status_code, patched.json()["scopeExpression"]) == (200, "input.message")
    assert patched.json()["eventKeyExpression"] == "'routing-hook:' + input.type"
    assert personas.owner.client.delete(f"/sfp/api/webhooks/{name}").status_code == 200
    assert personas.owner.client.get(f"/sfp/api/webhooks/{name}").json() == {
        "error": "not_found",
        "detail": f"no webhook named {name!r}",
    }


def test_a_member_may_not_manage_webhooks(personas: Personas) -> None:
    response = personas.member.client.get("/sfp/api/webhooks")
    assert response.json() == {
        "error": "permission_denied",
        "detail": "this needs a token with the role owner (manage incoming webhooks)",
    }


def test_a_second_webhook_of_the_same_name_is_refused(personas: Personas, name: str) -> None:
    basic(personas, name)
    again = create(personas, name, "BASIC", {"username": "u", "password": "p"})
    assert (again.status_code, again.json()) == (
        409,
        {"error": "already_exists", "detail": f"a webhook named {name!r} already exists"},
    )


@pytest.mark.parametrize(
    ("change", "detail"),
    [
        ({"eventKeyExpression": "input.type +"}, {"eventKeyExpression": "cannot parse expression 'input.type +'"}),
        (
            {"eventKeyExpression": "secret.x"},
            {"eventKeyExpression": "unknown variable 'secret' in 'secret.x' (known: headers, input)"},
        ),
        (
            {"sourceName": "STRIPE"},
            {"sourceName": "STRIPE deliveries are signed their own way, which is not offered; use GENERIC with HMAC"},
        ),
        ({"sourceName": "FTP"}, {"sourceName": "must be one of GENERIC, GITHUB, LINEAR"}),
        ({"authType": "NONE"}, {"authType": '"NONE" is not a valid choice; one of: BASIC, API_KEY, HMAC'}),
        ({"auth": {"username": "u"}}, {"auth.password": "must be a non-empty string"}),
        ({"name": "no spaces"}, {"name": "must be 1-200 letters, digits, '.', '_', ':' or '-'"}),
        ({"staticPayload": ["a"]}, {"staticPayload": 'Expected a dictionary of items but got type "list".'}),
        ({"colour": "red"}, {"colour": "unknown field"}),
    ],
)
def test_bad_input_is_refused_naming_the_field(
    personas: Personas, name: str, change: dict[str, Any], detail: dict[str, str]
) -> None:
    body = {
        "name": name,
        "sourceName": "GENERIC",
        "eventKeyExpression": "'k'",
        "authType": "BASIC",
        "auth": {"username": "u", "password": SECRET},
        **change,
    }
    response = personas.owner.client.post("/sfp/api/webhooks", body, format="json")
    assert (response.status_code, response.json()) == (400, {"error": "invalid_input", "detail": detail})
    assert not Webhook.objects.filter(name=name).exists()


def test_bad_hmac_settings_are_refused_naming_the_field(personas: Personas, name: str) -> None:
    auth = {"algorithm": "SHA3", "encoding": "HEX", "signatureHeaderName": "X-Sig", "signingSecret": SECRET}
    response = create(personas, name, "HMAC", auth)
    assert response.json() == {
        "error": "invalid_input",
        "detail": {"auth.algorithm": "must be one of SHA1, SHA256, SHA512, MD5"},
    }


# --- deliveries -----------------------------------------------------------------------------------------------


def test_a_delivery_with_the_right_basic_auth_becomes_an_event_that_starts_the_workflow(
    personas: Personas, name: str
) -> None:
    basic(personas, name)
    response = deliver(name, HTTP_AUTHORIZATION=basic_header("hooker", SECRET))
    body = response.json()
    assert (response.status_code, body["message"], body["event"]["key"]) == (200, "ok", "routing-hook:test")
    assert body["event"]["triggeringWebhookName"] == name
    assert result_of(body["event"]["metadata"]["id"]) == {"routinghook": {"input": BODY, "key": "routing-hook:test"}}


@pytest.mark.parametrize(
    ("authorization", "detail"),
    [
        (basic_header("hooker", "wrong"), "invalid basic auth credentials"),
        (basic_header("someone", SECRET), "invalid basic auth credentials"),
        (basic_header("", ""), "invalid basic auth credentials"),
        ("Bearer abc", "missing or invalid authorization header"),
        (None, "missing or invalid authorization header"),
    ],
)
def test_a_delivery_with_wrong_basic_auth_is_refused_and_starts_nothing(
    personas: Personas, name: str, authorization: str | None, detail: str
) -> None:
    basic(personas, name)
    headers: dict[str, Any] = {"HTTP_AUTHORIZATION": authorization} if authorization else {}
    response = deliver(name, **headers)
    assert (response.status_code, response.json()) == (403, {"error": "webhook_auth_failed", "detail": detail})
    assert not Event.objects.filter(triggering_webhook_name=name).exists()


def test_an_api_key_delivery_passes_only_with_the_key(personas: Personas, name: str) -> None:
    created = create(personas, name, "API_KEY", {"headerName": "X-API-Key", "apiKey": SECRET})
    assert created.status_code == 201
    wrong = deliver(name, HTTP_X_API_KEY="partial")
    missing = deliver(name)
    right = deliver(name, HTTP_X_API_KEY=SECRET)
    assert (wrong.json(), missing.json()) == (
        {"error": "webhook_auth_failed", "detail": "invalid api key in header: X-API-Key"},
        {"error": "webhook_auth_failed", "detail": "missing api key header: X-API-Key"},
    )
    assert Event.objects.filter(triggering_webhook_name=name).count() == 1
    assert result_of(right.json()["event"]["metadata"]["id"])["routinghook"]["input"] == BODY


def sign(body: bytes, algorithm: str, encoding: str) -> str:
    digest = hmac.new(SECRET.encode(), body, getattr(hashlib, algorithm.lower())).digest()
    if encoding == "HEX":
        return digest.hex()
    return (base64.b64encode if encoding == "BASE64" else base64.urlsafe_b64encode)(digest).decode()


@pytest.mark.parametrize(
    ("algorithm", "encoding", "prefix"),
    [("SHA256", "HEX", "sha256="), ("SHA1", "HEX", "sha1="), ("SHA256", "BASE64", ""), ("SHA512", "BASE64URL", "")],
)
def test_an_hmac_signed_delivery_passes_in_each_algorithm_and_encoding(
    personas: Personas, name: str, algorithm: str, encoding: str, prefix: str
) -> None:
    auth = {"algorithm": algorithm, "encoding": encoding, "signatureHeaderName": "X-Sig", "signingSecret": SECRET}
    assert create(personas, name, "HMAC", auth).status_code == 201
    raw = json.dumps(BODY).encode()
    response = deliver(name, raw=raw, HTTP_X_SIG=prefix + sign(raw, algorithm, encoding))
    assert response.status_code == 200, response.content


@pytest.mark.parametrize(
    ("signature", "detail"),
    [("sha256=" + "0" * 64, "invalid HMAC signature"), ("", "missing signature header: X-Sig")],
)
def test_a_delivery_with_a_bad_signature_is_refused_and_starts_nothing(
    personas: Personas, name: str, signature: str, detail: str
) -> None:
    auth = {"algorithm": "SHA256", "encoding": "HEX", "signatureHeaderName": "X-Sig", "signingSecret": SECRET}
    create(personas, name, "HMAC", auth)
    runs_before = WorkflowRun.objects.filter(workflow_name="RoutingHook").count()
    response = deliver(name, HTTP_X_SIG=signature) if signature else deliver(name)
    assert (response.status_code, response.json()) == (403, {"error": "webhook_auth_failed", "detail": detail})
    assert not Event.objects.filter(triggering_webhook_name=name).exists()
    assert WorkflowRun.objects.filter(workflow_name="RoutingHook").count() == runs_before


def test_the_static_payload_wins_over_the_body_and_scopes_come_from_body_or_headers(
    personas: Personas, name: str
) -> None:
    basic(
        personas,
        name,
        staticPayload={"message": "static", "env": "prod"},
        scopeExpression="headers['x-scope'] + ':' + input.env",
    )
    response = deliver(name, HTTP_AUTHORIZATION=basic_header("hooker", SECRET), HTTP_X_SCOPE="team")
    event = Event.objects.get(id=response.json()["event"]["metadata"]["id"])
    assert (event.payload, event.scope) == ({"type": "test", "message": "static", "env": "prod"}, "team:prod")


@pytest.mark.parametrize(
    ("raw", "detail"),
    [
        (
            b"{not json",
            {"body": "is not valid JSON: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"},
        ),
        (b"[1, 2]", {"body": "must be a JSON object, not list"}),
        (b'{"message": "no type"}', {"eventKeyExpression": "\"'routing-hook:' + input.type\": no value for 'type'"}),
    ],
)
def test_a_malformed_delivery_that_passed_auth_is_refused_naming_the_problem(
    personas: Personas, name: str, raw: bytes, detail: dict[str, str]
) -> None:
    basic(personas, name)
    response = deliver(name, raw=raw, HTTP_AUTHORIZATION=basic_header("hooker", SECRET))
    assert (response.status_code, response.json()) == (400, {"error": "invalid_delivery", "detail": detail})
    assert not Event.objects.filter(triggering_webhook_name=name).exists()


def test_an_event_key_that_is_not_a_string_is_refused(personas: Personas, name: str) -> None:
    basic(personas, name, eventKeyExpression="input.type")
    response = deliver(name, {"type": 3}, HTTP_AUTHORIZATION=basic_header("hooker", SECRET))
    assert response.json() == {
        "error": "invalid_delivery",
        "detail": {"eventKeyExpression": "'input.type' must evaluate to a string, not int"},
    }


def test_a_delivery_to_no_webhook_answers_404() -> None:
    response = deliver("no-such-hook")
    assert (response.status_code, response.json()) == (
        404,
        {"error": "not_found", "detail": "no webhook named 'no-such-hook'"},
    )


def test_hatchets_delivery_address_reaches_the_same_webhook(personas: Personas, name: str) -> None:
    basic(personas, name)
    response = APIClient().post(
        f"/api/v1/stable/tenants/default/webhooks/{name}",
        BODY,
        format="json",
        HTTP_AUTHORIZATION=basic_header("hooker", SECRET),
    )
    other_tenant = APIClient().post(f"/api/v1/stable/tenants/acme/webhooks/{name}", BODY, format="json")
    assert (response.status_code, other_tenant.status_code) == (200, 404)


def test_a_webhook_may_answer_without_the_event(personas: Personas, name: str) -> None:
    basic(personas, name, returnEventAsResponsePayload=False)
    response = deliver(name, HTTP_AUTHORIZATION=basic_header("hooker", SECRET))
    assert (response.status_code, response.content) == (204, b"")


def test_no_log_line_carries_the_secret(personas: Personas, name: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG")
    basic(personas, name)
    deliver(name, HTTP_AUTHORIZATION=basic_header("hooker", "wrong"))
    deliver(name, HTTP_AUTHORIZATION=basic_header("hooker", SECRET))
    assert caplog.records and not [r for r in caplog.records if SECRET in r.getMessage() or SECRET in str(r.__dict__)]


def test_deliveries_past_the_webhooks_rate_are_refused_with_retry_after(
    personas: Personas, name: str, settings: Any
) -> None:
    settings.API_THROTTLE_WEBHOOK_RATE = "2/hour"
    basic(personas, name)
    answers = [deliver(name, HTTP_AUTHORIZATION=basic_header("hooker", "wrong")) for _ in range(2)]
    refused = deliver(name, HTTP_AUTHORIZATION=basic_header("hooker", SECRET))
    assert [a.status_code for a in answers] == [403, 403]
    assert (refused.status_code, refused.json()) == (
        429,
        {
            "error": "throttled",
            "detail": "this webhook received more than 2 deliveries this hour (API_THROTTLE_WEBHOOK_RATE); "
            "retry after the number of seconds in the Retry-After header",
        },
    )
    assert int(refused["Retry-After"]) > 0
    assert not Event.objects.filter(triggering_webhook_name=name).exists()
