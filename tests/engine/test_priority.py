"""Priority is carried to the broker: queued HIGH runs start before queued LOW ones, retries before both."""

from __future__ import annotations

from sfpserver.engine.dispatch import broker_priority
from sfpserver.engine.models import Worker
from sfpserver.engine.trigger import trigger
from tests.conftest import Processes, wait_until
from tests.engine.helpers import executions, steps, wait_for_run
from tests.engine.workflows import PRIORITY_QUEUE


def test_retries_go_ahead_of_high_which_goes_ahead_of_low() -> None:
    assert broker_priority(4) < broker_priority(3) < broker_priority(2) < broker_priority(1)


def test_queued_high_priority_runs_start_before_low_priority_ones(platform: Processes) -> None:
    platform.start_node("prio-node", PRIORITY_QUEUE, concurrency=1)
    try:
        wait_until(
            lambda: Worker.objects.filter(name="prio-node", status="ACTIVE").exists(),
            timeout=60,
            what="the one-slot node",
        )
        blocker = trigger("t.prio_block", {"seconds": 2})
        wait_until(lambda: executions(blocker, "block") == 1, what="the node to be busy")
        low = [trigger("t.prio", {"n": i}, priority=1) for i in range(3)]
        high = [trigger("t.prio", {"n": i}, priority=3) for i in range(3)]
        for run_id in [blocker, *low, *high]:
            wait_for_run(run_id)
        started = {run_id: steps(run_id)["only"].started_at for run_id in [*low, *high]}
        assert max(started[r] for r in high) < min(started[r] for r in low)
    finally:
        platform.stop("prio-node")
