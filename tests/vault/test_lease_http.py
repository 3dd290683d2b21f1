"""The worker's lease over HTTP: with VAULT_LEASE_URL and VAULT_LEASE_TOKEN set, `lease_for` asks the API's
lease endpoint (served here by a real HTTP server in a thread) and turns its refusals back into the vault's
exceptions, with the same messages and the same non-retryable verdict as the in-process lease."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest
from django.core.wsgi import get_wsgi_application

from sfpserver.accounts import tokens
from sfpserver.accounts.models import ApiToken
from sfpserver.engine.runtime import is_non_retryable
from sfpserver.vault import services
from sfpserver.vault.exceptions import CredentialMissing, LeaseRefused, LeaseUnavailable
from sfpserver.vault.worker import lease_for
from tests.vault.conftest import Running, unique

pytestmark = pytest.mark.usefixtures("db_access")


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def api_server() -> Iterator[str]:
    server: WSGIServer = make_server("127.0.0.1", 0, get_wsgi_application(), handler_class=_Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/sfp/api"
    server.shutdown()
    server.server_close()


@pytest.fixture
def over_http(settings: Any, api_server: str) -> Iterator[str]:
    issued = tokens.issue(unique("lease-worker"), "application")
    settings.VAULT_LEASE_URL, settings.VAULT_LEASE_TOKEN, settings.VAULT_LEASE_TIMEOUT = api_server, issued.secret, 5.0
    settings.VAULT_LEASE_ENDPOINT = True
    yield issued.secret
    ApiToken.objects.filter(id=issued.token.id).delete()


def invocation(step: Running) -> Any:
    return SimpleNamespace(
        step_id=step.step_id,
        attempt=step.attempt,
        worker_id=step.worker_id,
        worker_name="w-http",
        lease_secret=step.secret,
    )


@pytest.fixture
def credential() -> str:
    name = unique("http")
    services.store("generic", name, f"secret of {name}")
    return name


def test_the_running_attempt_gets_its_credentials_over_http(
    over_http: str, start_step: Callable[..., Running], credential: str
) -> None:
    step = start_step([credential])
    assert lease_for(invocation(step), [credential]) == {credential: f"secret of {credential}"}
    assert services.describe(credential)["last_used_at"] is not None


def test_an_undeclared_credential_is_refused_with_the_in_process_message(
    over_http: str, start_step: Callable[..., Running], credential: str
) -> None:
    step = start_step([], step_name="other")
    with pytest.raises(LeaseRefused) as raised:
        lease_for(invocation(step), [credential])
    assert str(raised.value) == (
        "credential lease refused: "
        f"step 'other' did not declare credential(s) {credential!r} in its args['credentials']"
    )
    assert is_non_retryable(raised.value)
    assert over_http not in str(raised.value)


def test_a_missing_credential_comes_back_as_credential_missing(
    over_http: str, start_step: Callable[..., Running]
) -> None:
    name = unique("gone")
    step = start_step([name])
    with pytest.raises(CredentialMissing) as raised:
        lease_for(invocation(step), [name])
    assert (raised.value.name, str(raised.value)) == (name, f"credential {name!r} does not exist in the vault")
    assert is_non_retryable(raised.value)


def test_a_token_that_may_not_lease_is_refused_for_good(
    over_http: str, settings: Any, start_step: Callable[..., Running], credential: str
) -> None:
    owner = tokens.issue(unique("owner"), "owner")
    settings.VAULT_LEASE_TOKEN = owner.secret
    try:
        with pytest.raises(LeaseRefused) as raised:
            lease_for(invocation(start_step([credential])), [credential])
    finally:
        ApiToken.objects.filter(id=owner.token.id).delete()
    assert (
        str(raised.value)
        == "credential lease refused: the lease endpoint refused the worker's token (403 permission_denied)"
    )
    assert is_non_retryable(raised.value)


def test_an_unreachable_endpoint_is_a_retryable_failure(settings: Any, start_step: Callable[..., Running]) -> None:
    settings.VAULT_LEASE_URL, settings.VAULT_LEASE_TOKEN, settings.VAULT_LEASE_TIMEOUT = "http://127.0.0.1:9", "t", 2.0
    with pytest.raises(LeaseUnavailable) as raised:
        lease_for(invocation(start_step([])), [unique()])
    assert not is_non_retryable(raised.value)


def test_without_the_settings_the_lease_stays_in_process(
    settings: Any, start_step: Callable[..., Running], credential: str
) -> None:
    settings.VAULT_LEASE_URL, settings.VAULT_LEASE_TOKEN = "http://127.0.0.1:9", ""
    step = start_step([credential])
    assert lease_for(invocation(step), [credential]) == {credential: f"secret of {credential}"}
