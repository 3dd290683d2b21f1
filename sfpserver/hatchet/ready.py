"""Importing this module sets Django up, once, for a plain script.

Hatchet's users import SDK modules by their paths (`hatchet_sdk.exceptions`, `hatchet_sdk.clients.admin`), and
a script may import one of those before anything else; the modules of those paths that reach the engine import
this one first (then `# isort: split`), so the engine's models load on a ready Django. Under Django (the server,
the pools) it does nothing."""

from __future__ import annotations

from sfpserver.hatchet.setup import ensure_django

ensure_django()
