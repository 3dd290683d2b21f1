"""Hatchet's `hatchet_sdk.clients` package path (only the modules its users import)."""
