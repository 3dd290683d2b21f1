"""Bearer tokens: issued once, stored as a keyed hash, refused with 401 and a stable body when unusable."""

from __future__ import annotations

import hashlib
import io
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from sfpserver.accounts import tokens
from sfpserver.accounts.models import ApiToken
from tests.api.conftest import Personas
from tests.api.helpers import row_counts, submit

pytestmark = pytest.mark.django_db

NOT_VALID = {"error": "invalid_token", "detail": "the token is not valid"}


def bearer(value: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=value)
    return client


def test_a_request_without_a_token_is_refused_with_401(anonymous: APIClient) -> None:
    response = anonymous.get("/sfp/api/runs")
    assert response.status_code == 401
    assert response.json() == {"error": "not_authenticated", "detail": "Authentication credentials were not provided."}
    assert response["WWW-Authenticate"] == 'Bearer realm="sfpserver"'


@pytest.mark.parametrize("value", ["Bearer hello", "Bearer sfp_000000000000_secret", "Bearer sfp__x", "Bearer sfp_abc"])
def test_a_malformed_or_unknown_token_is_refused(value: str) -> None:
    response = bearer(value).get("/sfp/api/runs")
    assert response.status_code == 401
    assert response.json() == NOT_VALID


def test_a_token_with_the_right_prefix_but_a_wrong_secret_is_refused(personas: Personas) -> None:
    prefix = "_".join(personas.owner.secret.split("_", 2)[:2])
    response = bearer(f"Bearer {prefix}_not-the-secret").get("/sfp/api/runs")
    assert response.status_code == 401
    assert response.json() == NOT_VALID


def test_another_scheme_than_bearer_is_refused(personas: Personas) -> None:
    response = bearer(f"Basic {personas.owner.secret}").get("/sfp/api/runs")
    assert response.status_code == 401
    assert response.json() == {"error": "invalid_token", "detail": "send the token as 'Authorization: Bearer <token>'"}


def test_an_expired_token_is_refused(personas: Personas) -> None:
    ApiToken.objects.filter(id=personas.member.token.id).update(expires_at=timezone.now() - timedelta(seconds=1))
    response = personas.member.client.get("/sfp/api/runs")
    assert response.status_code == 401
    assert response.json() == {"error": "invalid_token", "detail": "the token has expired"}


def test_a_revoked_token_is_refused(personas: Personas) -> None:
    tokens.revoke(personas.app.token)
    response = personas.app.client.get("/sfp/api/runs")
    assert response.status_code == 401
    assert response.json() == {"error": "invalid_token", "detail": "the token has been revoked"}


def test_a_refused_token_records_and_queues_nothing(personas: Personas) -> None:
    tokens.revoke(personas.app.token)
    before = row_counts()
    response = submit(personas.app.client, {"type": "test.single", "data": {}})
    assert response.status_code == 401
    assert row_counts() == before


def test_the_token_is_stored_only_as_a_keyed_hash(personas: Personas) -> None:
    secret_part = personas.owner.secret.split("_", 2)[2]
    row = ApiToken.objects.values().get(id=personas.owner.token.id)
    assert not any(secret_part in str(value) for value in row.values())
    assert row["secret_hash"] != hashlib.sha256(secret_part.encode()).hexdigest()


def test_using_a_token_records_when_it_was_last_used(personas: Personas) -> None:
    assert personas.member.client.get("/sfp/api/runs").status_code == 200
    personas.member.token.refresh_from_db()
    assert personas.member.token.last_used_at is not None


def test_issue_token_prints_a_working_token_as_its_last_line(db: None) -> None:
    out = io.StringIO()
    call_command("issue_token", "release-bot", "--role", "application", "--expires-in", "30", stdout=out)
    token = out.getvalue().strip().splitlines()[-1]
    issued = ApiToken.objects.get(name="release-bot")
    assert issued.role == "application"
    assert issued.expires_at is not None
    assert timedelta(days=29) < issued.expires_at - timezone.now() <= timedelta(days=30)
    assert bearer(f"Bearer {token}").get("/sfp/api/runs").status_code == 200


def test_issue_token_refuses_an_expiry_of_less_than_a_day(db: None) -> None:
    with pytest.raises(CommandError, match="--expires-in: must be at least 1 day"):
        call_command("issue_token", "x", "--role", "member", "--expires-in", "0", stdout=io.StringIO())
    assert not ApiToken.objects.filter(name="x").exists()


def test_the_admin_lists_tokens_without_their_secret_and_cannot_create_one(personas: Personas) -> None:
    admin = User.objects.create_superuser("root", "root@example.com", "pw")
    client = Client()
    client.force_login(admin)
    page = client.get(f"/admin/accounts/apitoken/{personas.owner.token.id}/change/").content.decode()
    assert "owner" in page and personas.owner.token.prefix in page
    assert personas.owner.secret.split("_", 2)[2] not in page and personas.owner.token.secret_hash not in page
    assert client.get("/admin/accounts/apitoken/add/").status_code == 403
