"""What a valid credential of each kind looks like. Problems name the field and never quote the value.

`validate(kind, secret, metadata)` returns the secret and metadata to store (normalised, with the defaults
of its destinations filled in), or raises InvalidCredential. The destinations (sfpserver/vault/scope.py):

- sfdx_auth_url: `instance_url` (https://, default and required to be the auth URL's own host);
- github_token: `allowed_hosts`, the hosts git may send it to over https (default ["github.com"]);
- npm_token: `registry`, the one https:// registry it authenticates to (default https://registry.npmjs.org);
- generic: optional `allowed_hosts`, the ssh hosts it may serve as a private key for (none: not usable so);
- package_install_key: optional `package`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from sfpserver.vault import scope, sfdx
from sfpserver.vault.exceptions import InvalidCredential
from sfpserver.vault.models import CredentialKind

MAX_SECRET_CHARS = 64 * 1024
MAX_METADATA_CHARS = 8 * 1024
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@:-]{0,199}$")
NAME_RULE = "use 1-200 letters, digits or `._@:-`, starting with a letter or digit"
ORG_TYPES = ("production", "sandbox", "scratch", "devhub")
_GITHUB_PREFIXES = {"ghp_": "pat", "github_pat_": "pat", "ghs_": "app_installation", "gho_": "oauth", "ghu_": "oauth"}
_GITHUB_TOKEN = re.compile(
    r"^(ghp_|gho_|ghu_|ghs_|ghr_)[A-Za-z0-9]{20,255}$|^github_pat_[A-Za-z0-9_]{20,255}$|^[0-9a-f]{40}$"
)
GITHUB_TOKEN_TYPES = ("pat", "app_installation", "oauth")


def check_name(name: object) -> str:
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise InvalidCredential("name", NAME_RULE)
    return name


def check_kind(kind: object) -> str:
    if kind not in CredentialKind.values:
        raise InvalidCredential("kind", f"must be one of {', '.join(CredentialKind.values)}")
    return str(kind)


def validate(kind: str, secret: object, metadata: Mapping[str, Any] | None) -> tuple[str, dict[str, Any]]:
    kind = check_kind(kind)
    value = _check_secret(secret, strip=kind != CredentialKind.GENERIC)
    meta = _check_metadata(metadata)
    value, meta = _VALIDATORS[kind](value, meta)
    _check_no_secret_in_metadata(value, meta)
    return value, meta


def _check_secret(secret: object, *, strip: bool) -> str:
    if not isinstance(secret, str):
        raise InvalidCredential("secret", "must be a string")
    value = secret.strip() if strip else secret
    if not value:
        raise InvalidCredential("secret", "must not be empty")
    if len(value) > MAX_SECRET_CHARS:
        raise InvalidCredential("secret", f"must be at most {MAX_SECRET_CHARS} characters")
    if "\x00" in value:
        raise InvalidCredential("secret", "must not contain NUL characters")
    return value


def _check_metadata(metadata: Mapping[str, Any] | None) -> dict[str, Any]:
    if metadata is None:
        return {}
    if not isinstance(metadata, Mapping) or not all(isinstance(key, str) for key in metadata):
        raise InvalidCredential("metadata", "must be an object with string keys")
    try:
        encoded = json.dumps(dict(metadata))
    except (TypeError, ValueError):
        raise InvalidCredential("metadata", "must be JSON-serialisable") from None
    if len(encoded) > MAX_METADATA_CHARS:
        raise InvalidCredential("metadata", f"must be at most {MAX_METADATA_CHARS} characters as JSON")
    result: dict[str, Any] = json.loads(encoded)
    return result


def _check_no_secret_in_metadata(value: str, metadata: dict[str, Any]) -> None:
    encoded = json.dumps(metadata)
    parts = sfdx.parse(value)
    pieces = [value, *(parts.secret_parts if parts else [])]
    if any(len(piece) >= 4 and (piece in encoded or json.dumps(piece)[1:-1] in encoded) for piece in pieces):
        raise InvalidCredential("metadata", "must not contain the secret or any part of it")


def _line_safe(field: str, value: str) -> None:
    if any(char in value for char in "\r\n"):
        raise InvalidCredential(field, "must be a single line")


# --- kinds --------------------------------------------------------------------------------------------------


def _sfdx_auth_url(value: str, meta: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    parts = sfdx.parse(value)
    if parts is None:
        raise InvalidCredential("secret", f"an SFDX auth URL must look like {sfdx.SHAPE}")
    username = meta.get("username")
    if not isinstance(username, str) or "@" not in username or len(username) > 200 or username != username.strip():
        raise InvalidCredential("metadata.username", "the org's Salesforce username (user@example.com) is required")
    org_type = meta.get("org_type")
    if org_type not in ORG_TYPES:
        raise InvalidCredential("metadata.org_type", f"must be one of {', '.join(ORG_TYPES)}")
    is_devhub = meta.get("is_devhub", org_type == "devhub")
    if not isinstance(is_devhub, bool):
        raise InvalidCredential("metadata.is_devhub", "must be true or false")
    if is_devhub and org_type in ("sandbox", "scratch"):
        raise InvalidCredential("metadata.is_devhub", f"a {org_type} org cannot be a devhub")
    instance_url = meta.get("instance_url", parts.instance_url)
    if not _is_url(instance_url, schemes=("https",)):
        raise InvalidCredential("metadata.instance_url", "must be an https:// URL")
    if scope.host_of(instance_url) != scope.host_of(parts.instance_url):
        raise InvalidCredential("metadata.instance_url", "must be on the host the auth URL logs in to")
    return value, {
        **meta,
        "username": username,
        "org_type": org_type,
        "is_devhub": is_devhub,
        "instance_url": instance_url,
    }


def _github_token(value: str, meta: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    if not _GITHUB_TOKEN.match(value):
        raise InvalidCredential(
            "secret", "a GitHub token starts with ghp_, github_pat_, ghs_, gho_, ghu_ or ghr_ (or is 40 hex digits)"
        )
    inferred = next((kind for prefix, kind in _GITHUB_PREFIXES.items() if value.startswith(prefix)), "pat")
    token_type = meta.get("token_type", inferred)
    if token_type not in GITHUB_TOKEN_TYPES:
        raise InvalidCredential("metadata.token_type", f"must be one of {', '.join(GITHUB_TOKEN_TYPES)}")
    return value, {**meta, "token_type": token_type, "allowed_hosts": _hosts(meta, scope.DEFAULT_GITHUB_HOSTS)}


def _npm_token(value: str, meta: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    if any(char.isspace() for char in value):
        raise InvalidCredential("secret", "an npm token contains no whitespace")
    registry = scope.normal_registry(meta.get("registry", scope.DEFAULT_NPM_REGISTRY))
    if registry is None:
        raise InvalidCredential(
            "metadata.registry", "must be an https:// registry URL without credentials (http:// is refused)"
        )
    return value, {**meta, "registry": registry}


def _package_install_key(value: str, meta: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    _line_safe("secret", value)
    package = meta.get("package")
    if package is not None and (not isinstance(package, str) or not package.strip()):
        raise InvalidCredential("metadata.package", "must be the package's name or id")
    return value, meta


def _generic(value: str, meta: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    if "allowed_hosts" not in meta:
        return value, meta
    return value, {**meta, "allowed_hosts": _hosts(meta, ())}


def _hosts(meta: dict[str, Any], default: tuple[str, ...]) -> list[str]:
    hosts = meta.get("allowed_hosts", list(default))
    if not isinstance(hosts, list) or not 1 <= len(hosts) <= scope.MAX_HOSTS:
        raise InvalidCredential("metadata.allowed_hosts", f"must be a list of 1 to {scope.MAX_HOSTS} host names")
    normal = [scope.normal_host(host) for host in hosts]
    if any(host is None for host in normal):
        raise InvalidCredential(
            "metadata.allowed_hosts", "each entry must be a host name such as github.com (a port may follow)"
        )
    return list(dict.fromkeys(host for host in normal if host))


def _is_url(value: object, *, schemes: tuple[str, ...]) -> bool:
    if not isinstance(value, str):
        return False
    parts = urlsplit(value)
    return parts.scheme in schemes and bool(parts.netloc) and not parts.username and not parts.password


_VALIDATORS: dict[str, Callable[[str, dict[str, Any]], tuple[str, dict[str, Any]]]] = {
    CredentialKind.SFDX_AUTH_URL: _sfdx_auth_url,
    CredentialKind.GITHUB_TOKEN: _github_token,
    CredentialKind.NPM_TOKEN: _npm_token,
    CredentialKind.PACKAGE_INSTALL_KEY: _package_install_key,
    CredentialKind.GENERIC: _generic,
}
