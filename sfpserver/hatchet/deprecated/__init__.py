"""Hatchet's `hatchet_sdk.deprecated` package path, for code that imports its helpers."""
