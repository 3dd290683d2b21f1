"""Concurrency strategies and rate limits decided in Postgres, with Hatchet's keep/cancel rules (§1.16)."""

from __future__ import annotations

import itertools
import time
from typing import Any

import pytest

from sfpserver.engine.models import StepRun, WorkflowRun
from sfpserver.hatchet import RateLimitDuration
from tests.conftest import wait_until
from tests.hatchet import workflows as wf

pytestmark = pytest.mark.usefixtures("sdk_worker")


def _statuses(refs: list[Any]) -> list[str]:
    return [wf.hatchet.runs.get_status(r.workflow_run_id).value for r in refs]


def _wait_all_done(refs: list[Any], timeout: float = 60) -> list[str]:
    done = {"COMPLETED", "FAILED", "CANCELLED"}
    wait_until(lambda: all(s in done for s in _statuses(refs)), timeout=timeout, what="all runs to finish")
    return _statuses(refs)


def test_round_robin_never_runs_two_of_the_same_group_at_once() -> None:
    items = [wf.KeyedInput(group=g, index=i, seconds=0.4) for i, g in enumerate("AABBA")]
    results = wf.round_robin.run_many([wf.round_robin.create_bulk_run_item(item) for item in items])
    for group in "AB":
        spans = sorted(
            (r["started"], r["finished"]) for r, item in zip(results, items, strict=True) if item.group == group
        )
        for (_, end), (start, _) in itertools.pairwise(spans):
            assert start >= end, f"group {group} overlapped"
    a_spans = [(r["started"], r["finished"]) for r, i in zip(results, items, strict=True) if i.group == "A"]
    b_spans = [(r["started"], r["finished"]) for r, i in zip(results, items, strict=True) if i.group == "B"]
    assert any(a0 < b1 and b0 < a1 for a0, a1 in a_spans for b0, b1 in b_spans), "groups should not wait on each other"


def test_cancel_in_progress_keeps_only_the_newest_run_of_a_key() -> None:
    refs = []
    for index in range(4):
        refs.append(
            wf.cancel_in_progress.run(wf.KeyedInput(group="cip", index=index, seconds=3), wait_for_result=False)
        )
        time.sleep(0.4)
    assert _wait_all_done(refs) == ["CANCELLED", "CANCELLED", "CANCELLED", "COMPLETED"]
    first = StepRun.objects.get(run_id=refs[0].workflow_run_id)
    assert first.error == "Cancelled due to concurrency strategy"


def test_cancel_newest_keeps_the_running_run_and_cancels_newcomers() -> None:
    first = wf.cancel_newest.run(wf.KeyedInput(group="cn", seconds=1.5), wait_for_result=False)
    wait_until(lambda: StepRun.objects.filter(run_id=first.workflow_run_id, status="RUNNING").exists(), what="start")
    later = [wf.cancel_newest.run(wf.KeyedInput(group="cn", index=i), wait_for_result=False) for i in range(1, 4)]
    assert _wait_all_done([first, *later]) == ["COMPLETED", "CANCELLED", "CANCELLED", "CANCELLED"]


@pytest.mark.parametrize(("task_name", "kept"), [("except_newest", 3), ("except_oldest", 1)])
def test_cancel_queued_except_keeps_one_queued_run(task_name: str, kept: int) -> None:
    task = getattr(wf, task_name)
    running = task.run(wf.KeyedInput(group=task_name, index=0, seconds=1.5), wait_for_result=False)
    wait_until(lambda: StepRun.objects.filter(run_id=running.workflow_run_id, status="RUNNING").exists(), what="start")
    queued = [task.run(wf.KeyedInput(group=task_name, index=i, seconds=0.1), wait_for_result=False) for i in (1, 2, 3)]
    statuses = _wait_all_done([running, *queued])
    expected = ["COMPLETED"] + ["COMPLETED" if i == kept else "CANCELLED" for i in (1, 2, 3)]
    assert statuses == expected


def test_workflow_level_concurrency_holds_the_slot_for_the_whole_run() -> None:
    refs = [wf.serial_pipeline.run(wf.KeyedInput(group="x", seconds=0.3), wait_for_result=False) for _ in range(2)]
    results = [r.result() for r in refs]
    spans = sorted((r["stage_one"]["started"], r["stage_two"]["finished"]) for r in results)
    assert spans[1][0] >= spans[0][1]


def test_a_rate_limited_task_waits_instead_of_failing() -> None:
    wf.hatchet.rate_limits.put("sdk-test-api", 2, RateLimitDuration.MINUTE)
    refs = [wf.rate_limited.run(wait_for_result=False) for _ in range(4)]
    wait_until(lambda: _statuses(refs).count("COMPLETED") == 2, what="two runs within the limit")
    time.sleep(1.5)
    assert sorted(_statuses(refs)) == ["COMPLETED", "COMPLETED", "QUEUED", "QUEUED"]
    wf.hatchet.rate_limits.put("sdk-test-api", 10, RateLimitDuration.MINUTE)
    assert _wait_all_done(refs) == ["COMPLETED"] * 4
    assert not WorkflowRun.objects.filter(id__in=[r.workflow_run_id for r in refs], status="FAILED").exists()
