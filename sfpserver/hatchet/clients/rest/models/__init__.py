"""Hatchet's REST model types, at their module paths (the classes live in the SDK's own modules)."""
