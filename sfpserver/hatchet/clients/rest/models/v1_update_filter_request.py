"""Hatchet's `v1_update_filter_request` at its module path."""

from sfpserver.hatchet.rest_models import V1UpdateFilterRequest

__all__ = ["V1UpdateFilterRequest"]
