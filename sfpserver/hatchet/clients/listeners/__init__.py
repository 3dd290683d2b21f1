"""Hatchet's `hatchet_sdk.clients.listeners` package path."""
