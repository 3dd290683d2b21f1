"""Hatchet's `hatchet_sdk.clients.rest.models.v1_task_status` path."""

from __future__ import annotations

from sfpserver.hatchet.types import V1TaskStatus

__all__ = ["V1TaskStatus"]
