"""Hatchet's `hatchet_sdk.clients` paths, for the names Hatchet's users import from there."""
