"""The SDK client the sfp operations are declared with."""

from __future__ import annotations

from sfpserver.hatchet import Hatchet

hatchet = Hatchet()
