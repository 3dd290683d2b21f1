"""Hatchet's `v1_filter` at its module path."""

from sfpserver.hatchet.rest_models import V1Filter

__all__ = ["V1Filter"]
