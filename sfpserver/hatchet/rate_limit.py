"""Hatchet's `hatchet_sdk.rate_limit` path: a task's rate limits."""

from __future__ import annotations

from sfpserver.hatchet.types import RateLimit, RateLimitDuration

__all__ = ["RateLimit", "RateLimitDuration"]
