"""Hatchet's `hatchet_sdk.clients.rest` path."""
