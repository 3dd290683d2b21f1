"""A batch task's settings and the type of one member's output (a leaf: `task` and the decorators import it;
the batch handler itself is in `batch.py`)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import timedelta
from typing import Any, NewType, get_args, get_origin, get_type_hints

from pydantic import TypeAdapter

from sfpserver.hatchet.types import Duration, EmptyModel, duration_seconds

BatchMemberId = NewType("BatchMemberId", str)


@dataclasses.dataclass(frozen=True)
class BatchSettings:
    max_size: int
    interval: float | None  # seconds; None: flushed on size only (as Hatchet without batch_max_interval)
    group_key: str | None = None
    max_runs: int | None = None
    broadcast: bool = False

    def to_engine(self) -> dict[str, Any]:
        return {
            "max_size": self.max_size,
            "interval": self.interval,
            "group_key": self.group_key,
            "max_runs": self.max_runs,
        }


def settings(
    batch_max_size: int,
    batch_max_interval: Duration | None,
    batch_group_key: str | None,
    batch_group_max_runs: int | None,
    broadcast_output: bool,
) -> BatchSettings:
    if isinstance(batch_max_size, bool) or not isinstance(batch_max_size, int) or batch_max_size < 1:
        raise ValueError(f"batch_max_size must be a whole number >= 1, got {batch_max_size!r}")
    if batch_group_max_runs is not None and (not isinstance(batch_group_max_runs, int) or batch_group_max_runs < 1):
        raise ValueError(f"batch_group_max_runs must be a whole number >= 1, got {batch_group_max_runs!r}")
    interval = (
        batch_max_interval.total_seconds()  # milliseconds count here (Hatchet sends this one in ms)
        if isinstance(batch_max_interval, timedelta)
        else None
        if batch_max_interval is None
        else duration_seconds(batch_max_interval, 1.0)
    )
    return BatchSettings(batch_max_size, interval, batch_group_key or None, batch_group_max_runs, broadcast_output)


def member_adapter(fn: Callable[..., Any], broadcast: bool) -> TypeAdapter[Any] | None:
    """What one member's output is validated with: the return type (broadcast) or the value type of its dict."""
    try:
        hints = get_type_hints(fn)
    except Exception:  # noqa: BLE001 - unresolvable annotations: no output validation
        return None
    hint = hints.get("return")
    if "return" in hints and hint in (None, type(None)):
        return TypeAdapter(EmptyModel)  # `-> None`: each member's result is an EmptyModel (as Hatchet's)
    if hint is not None and not broadcast:
        hint = get_args(hint)[1] if get_origin(hint) is dict and len(get_args(hint)) == 2 else None
    if hint is None or hint is type(None):
        return None
    try:
        return TypeAdapter(hint)
    except Exception:  # noqa: BLE001 - a hint pydantic cannot handle: no output validation
        return None
