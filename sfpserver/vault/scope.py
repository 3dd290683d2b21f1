"""Where a credential may go. Each kind has one use, and each credential names the destinations its owner
allows in its metadata; a use anywhere else is refused (at trigger and again on the worker before the value
is handed to a process).

| use       | kind          | destination checked against                                                  |
| --------- | ------------- | ---------------------------------------------------------------------------- |
| ORG_LOGIN | sfdx_auth_url | the auth URL's host is the host of `instance_url`                            |
| GIT_TOKEN | github_token  | an https:// repository whose host is in `allowed_hosts` (["github.com"])     |
| SSH_KEY   | generic       | an ssh repository whose host is in `allowed_hosts` (no default: refused)     |
| NPM_TOKEN | npm_token     | the registry URL is `registry` ("https://registry.npmjs.org")                |

A `package_install_key` has no use an operation offers yet, so naming one anywhere is refused. A token or a
key named for a `file://` repository is accepted and never used: local clones authenticate nothing (and
`file://` itself is allowed only under SFP_FILE_REPOSITORY_ROOT, tasks/sfp/git.py).

Pure functions: `check(name, kind, metadata, use, destination)` raises CredentialMisuse naming the
credential and the refused destination, never a value.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from sfpserver.vault import sfdx
from sfpserver.vault.exceptions import CredentialMisuse
from sfpserver.vault.models import CredentialKind

DEFAULT_GITHUB_HOSTS = ("github.com",)
DEFAULT_NPM_REGISTRY = "https://registry.npmjs.org"
MAX_HOSTS = 20
_LABEL = r"[a-z0-9]([a-z0-9-]*[a-z0-9])?"
_HOST = re.compile(rf"^(?=[^:]{{1,253}}(:|$)){_LABEL}(\.{_LABEL})*(:\d{{1,5}})?$")
_SCP_LIKE = re.compile(r"^[A-Za-z0-9._-]+@(?P<host>[A-Za-z0-9.-]+):")


class Use(enum.Enum):
    ORG_LOGIN = "log in to a Salesforce org"
    GIT_TOKEN = "authenticate git over https"
    SSH_KEY = "authenticate git over ssh"
    NPM_TOKEN = "authenticate to an npm registry"


KIND_OF_USE = {
    Use.ORG_LOGIN: CredentialKind.SFDX_AUTH_URL,
    Use.GIT_TOKEN: CredentialKind.GITHUB_TOKEN,
    Use.SSH_KEY: CredentialKind.GENERIC,
    Use.NPM_TOKEN: CredentialKind.NPM_TOKEN,
}


# --- what the owner allows ----------------------------------------------------------------------------------


def host_of(value: str) -> str | None:
    """`host` or `host:port` (lower case, default ports dropped) of a URL or scp-like address, else None."""
    scp = _SCP_LIKE.match(value)
    if scp:
        return scp["host"].lower()
    parts = urlsplit(value)
    try:
        port = parts.port
    except ValueError:
        return None
    if not parts.hostname:
        return None
    default = {"https": 443, "ssh": 22}.get(parts.scheme)
    return parts.hostname if port in (None, default) else f"{parts.hostname}:{port}"


def normal_host(value: object) -> str | None:
    """A host as the owner may write it in `allowed_hosts` (`github.com`, `git.acme.com:8443`), normalised."""
    if not isinstance(value, str):
        return None
    host = value.strip().lower()
    return host if _HOST.match(host) else None


def normal_registry(value: object) -> str | None:
    """An https:// registry URL without trailing slash, query, fragment or userinfo; None if it is not one."""
    if not isinstance(value, str):
        return None
    parts = urlsplit(value.strip())
    if parts.scheme != "https" or not parts.hostname or parts.username or parts.password or parts.query:
        return None
    if parts.fragment or host_of(value.strip()) is None:
        return None
    return f"https://{host_of(value.strip())}{parts.path.rstrip('/')}"


def allowed_hosts(kind: str, metadata: Mapping[str, Any]) -> list[str]:
    """The hosts a github_token or generic credential may reach (the defaults applied)."""
    hosts = metadata.get("allowed_hosts")
    if hosts is None:
        return list(DEFAULT_GITHUB_HOSTS) if kind == CredentialKind.GITHUB_TOKEN else []
    return [host for host in (normal_host(h) for h in hosts) if host] if isinstance(hosts, list) else []


def registry(metadata: Mapping[str, Any]) -> str:
    return normal_registry(metadata.get("registry", DEFAULT_NPM_REGISTRY)) or ""


def with_defaults(kind: str, metadata: Mapping[str, Any]) -> dict[str, Any]:
    """The metadata as it is enforced: what a credential stored before destinations existed is bound to."""
    shown = dict(metadata)
    if kind == CredentialKind.GITHUB_TOKEN and "allowed_hosts" not in shown:
        shown["allowed_hosts"] = list(DEFAULT_GITHUB_HOSTS)
    if kind == CredentialKind.NPM_TOKEN and "registry" not in shown:
        shown["registry"] = DEFAULT_NPM_REGISTRY
    return shown


def destinations(kind: str, metadata: Mapping[str, Any]) -> str:
    """Where a credential may go, in words, for listings."""
    if kind == CredentialKind.SFDX_AUTH_URL:
        return host_of(str(metadata.get("instance_url", ""))) or "-"
    if kind == CredentialKind.NPM_TOKEN:
        return registry(metadata) or "-"
    return ", ".join(allowed_hosts(kind, metadata)) or "-"


# --- checking one use ---------------------------------------------------------------------------------------


def check(name: str, kind: str, metadata: Mapping[str, Any], use: Use, destination: str | None) -> None:
    """Refuse (CredentialMisuse) unless credential `name` may serve `use` at `destination` (None: not known
    yet, only the kind is checked)."""
    expected = KIND_OF_USE[use]
    if kind != expected:
        raise CredentialMisuse(name, f"it is of kind {kind}, and only kind {expected.value} may {use.value}")
    if destination is None:
        return
    if use is Use.ORG_LOGIN:
        _check_org(name, metadata, destination)
    elif use is Use.NPM_TOKEN:
        _check_registry(name, metadata, destination)
    else:
        _check_repository(name, kind, metadata, use, destination)


def _check_org(name: str, metadata: Mapping[str, Any], auth_url: str) -> None:
    parts = sfdx.parse(auth_url)
    instance = host_of(str(metadata.get("instance_url", "")))
    if parts is None or host_of(parts.instance_url) != instance:
        raise CredentialMisuse(name, f"its auth URL does not log in to its instance_url host {instance or '?'}")


def _check_registry(name: str, metadata: Mapping[str, Any], url: str) -> None:
    wanted, allowed = normal_registry(url), registry(metadata)
    if wanted is None:
        raise CredentialMisuse(name, f"npm registry {_shown(url)} is not an https:// URL (http:// is refused)")
    if wanted != allowed:
        raise CredentialMisuse(name, f"it is a token for {allowed or '?'} only, not for {wanted}")


def _check_repository(name: str, kind: str, metadata: Mapping[str, Any], use: Use, url: str) -> None:
    scheme = "ssh" if _SCP_LIKE.match(url) else urlsplit(url).scheme
    if scheme == "file":
        return  # a local clone authenticates nothing: the value is not handed to git
    wanted = "https" if use is Use.GIT_TOKEN else "ssh"
    if scheme != wanted:
        raise CredentialMisuse(name, f"kind {kind} may {use.value} only, not over {scheme or '?'}://")
    host, hosts = host_of(url), allowed_hosts(kind, metadata)
    if host is None or host not in hosts:
        allowed = ", ".join(hosts) if hosts else "no host (set metadata.allowed_hosts)"
        raise CredentialMisuse(name, f"it may reach {allowed} only, not {host or '?'}")


def _shown(url: str) -> str:
    parts = urlsplit(url)
    return parts._replace(netloc=parts.hostname or "").geturl() if parts.username or parts.password else url
