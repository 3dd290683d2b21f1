"""Hatchet's `v1_filter_list` at its module path."""

from sfpserver.hatchet.rest_models import V1FilterList

__all__ = ["V1FilterList"]
