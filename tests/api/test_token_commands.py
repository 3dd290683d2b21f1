"""`manage.py list_tokens` and `manage.py revoke_token NAME`: tokens are listed without a secret, and revoked
by name from a terminal."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from rest_framework.test import APIClient

from sfpserver.accounts import tokens
from sfpserver.accounts.models import ApiToken

pytestmark = pytest.mark.django_db


def _run(command: str, *args: str) -> str:
    out = io.StringIO()
    call_command(command, *args, stdout=out)
    return out.getvalue()


def _status(secret: str) -> int:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client.get("/sfp/api/runs").status_code


def test_list_tokens_shows_name_role_state_and_dates_but_never_a_secret_or_a_hash() -> None:
    ci = tokens.issue("ci-pipeline", "application", expires_in_days=30)
    old = tokens.issue("old-laptop", "member")
    tokens.revoke(old.token)
    lapsed = tokens.issue("lapsed", "owner")
    ApiToken.objects.filter(id=lapsed.token.id).update(expires_at=timezone.now() - timedelta(days=1))
    assert _status(ci.secret) == 200  # so it has been used

    lines = _run("list_tokens").splitlines()
    assert lines[0].split() == ["name", "role", "token", "state", "created", "expires", "revoked", "last", "used"]
    rows = {line.split()[0]: line.split() for line in lines[1:]}
    assert rows["ci-pipeline"][:4] == ["ci-pipeline", "application", f"sfp_{ci.token.prefix}_…", "active"]
    assert rows["ci-pipeline"][6] == "-" and rows["ci-pipeline"][7] != "never"  # not revoked, used
    assert rows["old-laptop"][3] == "revoked" and rows["old-laptop"][5] == "never" and rows["old-laptop"][6] != "-"
    assert rows["lapsed"][3] == "expired"
    listing = "\n".join(lines)
    for issued in (ci, old, lapsed):
        issued.token.refresh_from_db()
        assert issued.secret.split("_", 2)[2] not in listing and issued.token.secret_hash not in listing


def test_list_tokens_with_no_tokens_says_how_to_issue_one() -> None:
    ApiToken.objects.all().delete()
    assert _run("list_tokens") == "No tokens. Issue one with `manage.py issue_token NAME --role ROLE`.\n"


def test_revoke_token_revokes_every_active_token_of_that_name_and_the_api_refuses_them() -> None:
    first, second = tokens.issue("shared-name", "member"), tokens.issue("shared-name", "member")
    other = tokens.issue("other", "member")
    assert _run("revoke_token", "shared-name") == "Revoked 2 token(s) named 'shared-name'.\n"
    assert _status(first.secret) == 401 and _status(second.secret) == 401
    assert _status(other.secret) == 200
    assert _run("revoke_token", "shared-name") == "Every token named 'shared-name' was already revoked.\n"


def test_revoke_token_of_an_unknown_name_fails_with_a_clear_message() -> None:
    with pytest.raises(CommandError) as failed:
        _run("revoke_token", "no-such-token")
    assert str(failed.value) == "no token is named 'no-such-token' (see `manage.py list_tokens`)"
    assert failed.value.returncode == 1  # manage.py exits with it
