"""Stopping a step (cancel, execution timeout) terminates the CLI's whole process group, including a child
that ignores SIGTERM; and a long step is never handed to a second long-running worker while the first lives."""

from __future__ import annotations

import re
import uuid
from typing import Any

import psutil
import pytest

from sfpserver.engine import lifecycle
from sfpserver.engine.models import EventKind, RunEvent, StepRun, Worker, WorkerStatus
from sfpserver.engine.trigger import trigger
from tests.conftest import Processes, wait_until
from tests.engine.helpers import attempts, steps, wait_for_run
from tests.tasks.conftest import Org

pytestmark = pytest.mark.usefixtures("platform")


def processes_marked(marker: str) -> list[psutil.Process]:
    """The stand-in and its children for one run: their environment carries the run's simulate marker."""
    found = []
    for proc in psutil.process_iter(["pid"]):
        try:
            if marker in proc.environ().get("SFP_STANDIN_SIMULATE", ""):
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return [p for p in found if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]


def slow_tests_input(org: Org, marker: str, seconds: int = 120) -> dict[str, object]:
    simulate = {"seconds": seconds, "grandchild": True, "message": marker}
    return {"target_org": org.name, "simulate": {"apextests trigger": simulate}}


def helper_started(run_id: Any) -> bool:
    return RunEvent.objects.filter(
        run_id=run_id, kind=EventKind.LOG, message__startswith="started helper process"
    ).exists()


def test_cancelling_a_run_kills_the_whole_cli_process_group(orgs: dict[str, Org]) -> None:
    marker = uuid.uuid4().hex
    run_id = trigger("sfp-apex-tests", slow_tests_input(orgs["staging"], marker))
    wait_until(lambda: helper_started(run_id), timeout=60, what="the stand-in and its helper to start")
    assert len(processes_marked(marker)) == 2

    assert lifecycle.cancel_run(run_id)

    wait_until(lambda: not processes_marked(marker), timeout=20, what="the process group to be killed")
    assert wait_for_run(run_id).status == "CANCELLED"
    lines = RunEvent.objects.filter(run_id=run_id, kind=EventKind.LOG).values_list("message", flat=True)
    assert any(re.match(r"Cancelling test run 707\w+ \(signal 15\)", line) for line in lines)


def test_an_execution_timeout_kills_the_whole_cli_process_group(orgs: dict[str, Org]) -> None:
    marker = uuid.uuid4().hex
    run_id = trigger("t-sfp-short-tests", slow_tests_input(orgs["staging"], marker))

    finished = wait_for_run(run_id, timeout=60)

    assert finished.status == "FAILED"
    assert steps(run_id)["tests_with_a_deadline"].error == "Task exceeded timeout of 4s"
    wait_until(lambda: not processes_marked(marker), timeout=20, what="the process group to be killed")


@pytest.fixture
def second_long_running_worker(platform: Processes) -> object:
    """Another long-running node whose broker connection would hand out unacknowledged messages after 1 s."""
    before = Worker.objects.filter(status=WorkerStatus.ACTIVE, pool="long-running").count()
    platform.start_node("long-running-2", "long-running", concurrency=1, CELERY_VISIBILITY_TIMEOUT="1")
    wait_until(
        lambda: Worker.objects.filter(status=WorkerStatus.ACTIVE, pool="long-running").count() > before,
        timeout=60,
        what="the second long-running worker",
    )
    yield
    platform.stop("long-running-2")


@pytest.mark.usefixtures("second_long_running_worker")
def test_a_long_step_is_not_redelivered_to_a_second_worker_while_the_first_lives(orgs: dict[str, Org]) -> None:
    marker = uuid.uuid4().hex
    run_id = trigger("sfp-apex-tests", slow_tests_input(orgs["staging"], marker, seconds=7))

    finished = wait_for_run(run_id, timeout=90)

    assert finished.status == "COMPLETED", finished.error
    step = StepRun.objects.get(run_id=run_id)
    assert [a["outcome"] for a in attempts(step)] == ["COMPLETED"]
    starts = RunEvent.objects.filter(run_id=run_id, kind=EventKind.LOG, message__startswith="Triggering tests (")
    assert starts.count() == 1
