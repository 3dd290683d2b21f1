"""The feed never gets in the engine's way: with the channel layer failing, every transition still
commits, and the failure is one warning, not an error raised into the engine."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from sfpserver.engine.models import RunStatus, WorkflowRun
from sfpserver.live import publisher
from tests.live import helpers


class BrokenLayer:
    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        raise ConnectionError("the channel layer is down")


def test_a_failing_channel_layer_breaks_nothing_in_the_engine(
    live_db: None, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(publisher, "_layer", BrokenLayer)
    monkeypatch.setattr(publisher.get_publisher(), "_warned_at", -publisher.WARN_EVERY)
    run_id = helpers.start_run()
    with caplog.at_level(logging.WARNING, logger="sfpserver.live.publisher"):
        for name in ("checkout", "build", "publish"):
            helpers.claim(run_id, name)
            helpers.progress(run_id, name, 50)
            helpers.complete_claimed(run_id, name)
        helpers.flush()
    assert WorkflowRun.objects.get(id=run_id).status == RunStatus.COMPLETED
    warnings = [r.getMessage() for r in caplog.records if r.name == "sfpserver.live.publisher"]
    assert warnings and "not published (ConnectionError: the channel layer is down)" in warnings[0]
