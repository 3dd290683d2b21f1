"""Hatchet's `hatchet_sdk.clients.rest.api.observability_api` path."""

from __future__ import annotations

from sfpserver.hatchet.clients.rest.api import NoRestApi


class ObservabilityApi(NoRestApi):
    """Hatchet's trace store REST API; not offered (no trace store)."""
