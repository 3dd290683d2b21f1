"""The engine's after-commit signals, handed to this process's live publisher.

They run in whichever process committed the change (API, worker, scheduler), right after the commit, and
only queue a job (sfpserver/live/publisher.py), so the engine never waits on the feed.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sfpserver.engine.services import signals
from sfpserver.live import publisher
from sfpserver.live.publisher import Job


def connect() -> None:
    signals.step_changed.connect(on_step_changed, dispatch_uid="live.step_changed")
    signals.run_changed.connect(on_run_changed, dispatch_uid="live.run_changed")
    signals.event_recorded.connect(on_event_recorded, dispatch_uid="live.event_recorded")


def on_step_changed(sender: Any, run_id: UUID, step_id: UUID, status: str, **_: Any) -> None:
    publisher.submit(Job(str(run_id), change={"type": "step", "step_id": str(step_id), "status": status}))


def on_run_changed(sender: Any, run_id: UUID, **_: Any) -> None:
    publisher.submit(Job(str(run_id), change={"type": "run"}))


def on_event_recorded(sender: Any, run_id: UUID, event: dict[str, Any], **_: Any) -> None:
    publisher.submit(Job(str(run_id), event=event))
