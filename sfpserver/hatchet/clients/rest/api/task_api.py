"""Hatchet's `hatchet_sdk.clients.rest.api.task_api` path."""

from __future__ import annotations

from sfpserver.hatchet.clients.rest.api import NoRestApi


class TaskApi(NoRestApi):
    """Hatchet's task REST API (restore of evicted durable tasks and the like); not offered."""
