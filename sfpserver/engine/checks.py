"""System checks for engine settings that are each valid but wrong together (stable ids engine.E00x)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, Tags, register


@register(Tags.compatibility)
def check_engine_timings(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    errors = []
    if settings.ENGINE_WORKER_DEAD_AFTER < 2 * settings.ENGINE_HEARTBEAT_INTERVAL:
        errors.append(
            Error(
                "ENGINE_WORKER_DEAD_AFTER must be at least twice ENGINE_HEARTBEAT_INTERVAL",
                hint="otherwise a live worker that misses one beat is declared dead and its steps run twice",
                id="engine.E001",
            )
        )
    if settings.ENGINE_REDISPATCH_AFTER <= settings.ENGINE_TICK:
        errors.append(
            Error(
                "ENGINE_REDISPATCH_AFTER must be longer than ENGINE_TICK",
                hint="the sweeper would re-publish every queued step on every tick",
                id="engine.E002",
            )
        )
    if settings.LONG_RUNNING_DEFAULT_TIMEOUT < settings.STANDARD_DEFAULT_TIMEOUT:
        errors.append(
            Error(
                "LONG_RUNNING_DEFAULT_TIMEOUT is shorter than STANDARD_DEFAULT_TIMEOUT",
                hint="the long-running pool exists for longer steps",
                id="engine.E003",
            )
        )
    return errors
