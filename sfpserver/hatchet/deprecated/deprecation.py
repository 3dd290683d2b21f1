"""Version comparison as Hatchet's `hatchet_sdk.deprecated.deprecation` offers it (its test harness imports it)."""

from __future__ import annotations

import re

_SEMVER = re.compile(r"^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?")


def parse_semver(version: str) -> tuple[int, int, int]:
    """`v1.2.3` (or `1.2`, `1`) as (1, 2, 3); anything after the numbers (`-rc1`, `+build`) is ignored."""
    match = _SEMVER.match(version.strip())
    if match is None:
        raise ValueError(f"not a version: {version!r}")
    major, minor, patch = (int(part or 0) for part in match.groups())
    return major, minor, patch


def semver_less_than(a: str, b: str) -> bool:
    """True if version `a` is strictly older than `b`."""
    return parse_semver(a) < parse_semver(b)
