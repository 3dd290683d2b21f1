"""The engine version `hatchet.aio_get_engine_version()` reports.

Hatchet's clients (its examples' test harness, its worker) decide which features to use by comparing that
version with `MinEngineVersion`, the first engine version offering each feature. So the version claims only
what this platform does: the highest entry of that table such that it and every entry below it are in
`OFFERED`. Offer one of those features, add it to `OFFERED` (and take its row out of the README's differences).
"""

from __future__ import annotations

from sfpserver.hatchet.deprecated.deprecation import parse_semver
from sfpserver.hatchet.engine_version import MinEngineVersion

# Slots per worker, durable eviction and batch tasks are offered; the engine's trace store (observability) is not,
# so the version reported stops below it (v0.80.0) and Hatchet's clients do not rely on it, nor on what comes after.
OFFERED: frozenset[MinEngineVersion] = frozenset(
    {MinEngineVersion.SLOT_CONFIG, MinEngineVersion.DURABLE_EVICTION, MinEngineVersion.BATCHING}
)


def engine_version(offered: frozenset[MinEngineVersion] = OFFERED) -> str | None:
    """The highest version whose feature, and the feature of every lower version, is offered (None: none is)."""
    reported: str | None = None
    for feature in sorted(MinEngineVersion, key=lambda f: parse_semver(f.value)):
        if feature not in offered:
            break
        reported = feature.value
    return reported
