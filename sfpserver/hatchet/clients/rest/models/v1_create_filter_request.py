"""Hatchet's `v1_create_filter_request` at its module path."""

from sfpserver.hatchet.rest_models import V1CreateFilterRequest

__all__ = ["V1CreateFilterRequest"]
