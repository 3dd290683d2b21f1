"""Parsing Salesforce SFDX auth URLs: `force://<clientId>:<clientSecret>:<refreshToken>@<instanceUrl>`.

Pure functions with no Django imports, so the redactor (loaded by the logging configuration) can use them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

SHAPE = "force://<clientId>:<clientSecret>:<refreshToken>@<instanceUrl>"
_URL = re.compile(
    r"^force://(?P<client_id>[^:@\s/]+):(?P<client_secret>[^:@\s]*):(?P<refresh_token>[^@\s]+)@(?P<instance>\S+)$"
)
_HOST = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*(:\d{1,5})?$")


@dataclass(frozen=True)
class SfdxParts:
    client_id: str
    client_secret: str = field(repr=False)
    refresh_token: str = field(repr=False)
    host: str

    @property
    def instance_url(self) -> str:
        return f"https://{self.host}"

    @property
    def secret_parts(self) -> list[str]:
        """The components that are secret (the client id and host are not)."""
        return [part for part in (self.client_secret, self.refresh_token) if part]


def parse(value: str) -> SfdxParts | None:
    """The components of an SFDX auth URL, or None if `value` is not one."""
    match = _URL.match(value)
    if match is None:
        return None
    host = re.sub(r"^https?://", "", match["instance"]).rstrip("/")
    if not _HOST.match(host):
        return None
    return SfdxParts(match["client_id"], match["client_secret"], match["refresh_token"], host)
