"""Hatchet's `hatchet_sdk.clients.rest` package path: the REST read models its users import by module."""
