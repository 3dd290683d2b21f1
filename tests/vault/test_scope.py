"""Where a credential may go (sfpserver/vault/scope.py): table tests of the pure decision, no servers."""

from __future__ import annotations

from typing import Any

import pytest

from sfpserver.vault import scope
from sfpserver.vault.exceptions import CredentialMisuse
from sfpserver.vault.scope import Use
from tests.vault.conftest import SFDX_URL

GITHUB: dict[str, Any] = {"allowed_hosts": ["github.com"]}
ACME_GIT: dict[str, Any] = {"allowed_hosts": ["git.acme.com:8443"]}
ORG: dict[str, Any] = {"instance_url": "https://acme.my.salesforce.com"}


@pytest.mark.parametrize(
    ("kind", "metadata", "use", "destination"),
    [
        ("github_token", GITHUB, Use.GIT_TOKEN, "https://github.com/acme/repo.git"),
        ("github_token", {}, Use.GIT_TOKEN, "https://GitHub.com:443/acme/repo.git"),  # default: github.com
        ("github_token", ACME_GIT, Use.GIT_TOKEN, "https://git.acme.com:8443/acme/repo.git"),
        ("github_token", GITHUB, Use.GIT_TOKEN, "file:///tmp/repo.git"),  # local: the token is not used
        ("generic", GITHUB, Use.SSH_KEY, "git@github.com:acme/repo.git"),
        ("generic", GITHUB, Use.SSH_KEY, "ssh://git@github.com/acme/repo.git"),
        ("npm_token", {}, Use.NPM_TOKEN, "https://registry.npmjs.org/"),  # default registry
        ("npm_token", {"registry": "https://npm.acme.com/repo"}, Use.NPM_TOKEN, "https://npm.acme.com/repo/"),
        ("sfdx_auth_url", ORG, Use.ORG_LOGIN, SFDX_URL),
        ("sfdx_auth_url", ORG, Use.ORG_LOGIN, None),  # at trigger: only the kind is known
        ("npm_token", {}, Use.NPM_TOKEN, None),
    ],
)
def test_a_credential_serves_its_own_use_at_its_own_destination(
    kind: str, metadata: dict[str, Any], use: Use, destination: str | None
) -> None:
    scope.check("c", kind, metadata, use, destination)


@pytest.mark.parametrize(
    ("kind", "metadata", "use", "destination", "problem"),
    [
        (
            "github_token",
            GITHUB,
            Use.GIT_TOKEN,
            "https://attacker.example/x.git",
            "it may reach github.com only, not attacker.example",
        ),
        (
            "github_token",
            {},
            Use.GIT_TOKEN,
            "https://github.com.attacker.example/x.git",
            "it may reach github.com only, not github.com.attacker.example",
        ),
        (
            "github_token",
            ACME_GIT,
            Use.GIT_TOKEN,
            "https://git.acme.com/acme/repo.git",  # another port is another destination
            "it may reach git.acme.com:8443 only, not git.acme.com",
        ),
        (
            "github_token",
            GITHUB,
            Use.GIT_TOKEN,
            "ssh://git@github.com/acme/repo.git",
            "kind github_token may authenticate git over https only, not over ssh://",
        ),
        (
            "generic",
            {},
            Use.SSH_KEY,
            "git@github.com:acme/repo.git",
            "it may reach no host (set metadata.allowed_hosts) only, not github.com",
        ),
        (
            "npm_token",
            {},
            Use.NPM_TOKEN,
            "https://npm.attacker.example/",
            "it is a token for https://registry.npmjs.org only, not for https://npm.attacker.example",
        ),
        (
            "npm_token",
            {},
            Use.NPM_TOKEN,
            "http://registry.npmjs.org/",
            "npm registry http://registry.npmjs.org/ is not an https:// URL (http:// is refused)",
        ),
        (
            "sfdx_auth_url",
            {"instance_url": "https://other.my.salesforce.com"},
            Use.ORG_LOGIN,
            SFDX_URL,
            "its auth URL does not log in to its instance_url host other.my.salesforce.com",
        ),
        (
            "sfdx_auth_url",
            ORG,
            Use.GIT_TOKEN,
            None,
            "it is of kind sfdx_auth_url, and only kind github_token may authenticate git over https",
        ),
        (
            "github_token",
            GITHUB,
            Use.ORG_LOGIN,
            None,
            "it is of kind github_token, and only kind sfdx_auth_url may log in to a Salesforce org",
        ),
        (
            "package_install_key",
            {},
            Use.NPM_TOKEN,
            None,
            "it is of kind package_install_key, and only kind npm_token may authenticate to an npm registry",
        ),
        (
            "generic",
            {},
            Use.ORG_LOGIN,
            None,
            "it is of kind generic, and only kind sfdx_auth_url may log in to a Salesforce org",
        ),
    ],
)
def test_a_credential_is_refused_for_another_use_or_destination(
    kind: str, metadata: dict[str, Any], use: Use, destination: str | None, problem: str
) -> None:
    with pytest.raises(CredentialMisuse) as refused:
        scope.check("c", kind, metadata, use, destination)
    assert str(refused.value) == f"credential 'c' cannot be used here: {problem}"
    assert refused.value.non_retryable


def test_older_credentials_are_shown_with_the_destinations_they_are_held_to() -> None:
    assert scope.with_defaults("github_token", {"token_type": "pat"}) == {
        "token_type": "pat",
        "allowed_hosts": ["github.com"],
    }
    assert scope.with_defaults("npm_token", {}) == {"registry": "https://registry.npmjs.org"}
    assert scope.with_defaults("generic", {}) == {}
