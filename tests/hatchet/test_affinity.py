"""Worker labels, affinity and sticky assignment, end to end: two SDK workers with different labels, the
platform's scheduler, real Postgres and Redis. Each task reports the worker it ran on."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sfpserver.engine import services
from sfpserver.engine.models import Attempt, StepRun, Worker
from sfpserver.hatchet import DesiredWorkerLabel
from tests.conftest import ROOT, Processes, wait_until
from tests.hatchet import affinity_worker as aw
from workers.lifeline import die_with_parent

GATE = Path(f"/tmp/affinity-gate-{os.getpid()}")
LABELS = {"affinity-eu": ["zone=eu", "memory=512"], "affinity-us": ["zone=us", "memory=2048"]}


PROCESSES: dict[str, subprocess.Popen[bytes]] = {}  # by worker id


@pytest.fixture(scope="module")
def workers(platform: Processes) -> Iterator[dict[str, str]]:
    """The id of each labelled worker, by its zone."""
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.hatchet.affinity_worker", name, *labels],
            cwd=ROOT,
            env=platform.env(AFFINITY_GATE=str(GATE)),
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
        for name, labels in LABELS.items()
    ]
    ids = {}
    for proc, name in zip(procs, LABELS, strict=True):
        worker = wait_until(
            lambda: Worker.objects.filter(name=name, pid=proc.pid, status="ACTIVE").first(),  # noqa: B023
            timeout=90,
            what=f"the {name} worker",
        )
        ids[name.removeprefix("affinity-")] = str(worker.id)
        PROCESSES[str(worker.id)] = proc
    yield ids
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    for proc in procs:
        proc.wait(timeout=30)


def ran_on(result: dict[str, Any]) -> set[str]:
    return {output["worker"] for output in result.values()}


def test_a_required_label_runs_the_task_only_on_a_worker_that_has_it(workers: dict[str, str]) -> None:
    results = [aw.in_eu.run() for _ in range(6)]
    assert {r["worker"] for r in results} == {workers["eu"]}


def test_a_weighted_label_prefers_the_best_scoring_worker(workers: dict[str, str]) -> None:
    results = [aw.big_memory.run() for _ in range(6)]
    assert {r["worker"] for r in results} == {workers["us"]}


def test_labels_given_to_a_run_place_every_task_of_that_run(workers: dict[str, str]) -> None:
    zones = ["eu", "us", "us", "eu", "us", "eu"]
    items = [
        aw.runtime.create_bulk_run_item(
            desired_worker_labels=[DesiredWorkerLabel(key="zone", value=zone, required=True)]
        )
        for zone in zones
    ]
    results = aw.runtime.run_many(items)
    assert [ran_on(result) for result in results] == [{workers[zone]} for zone in zones]


def test_a_task_no_worker_may_take_waits_until_a_task_gives_a_worker_the_label(workers: dict[str, str]) -> None:
    waiting = aw.needs_model.run(wait_for_result=False)
    wait_until(
        lambda: StepRun.objects.filter(run_id=waiting.workflow_run_id, waiting_for="broker").exists(),
        what="the unplaceable task to wait for a worker",
    )
    time.sleep(2)  # several sweeps of the scheduler: none may place it
    assert StepRun.objects.get(run_id=waiting.workflow_run_id).status == "QUEUED"
    relabelled = aw.relabel.run(desired_worker_labels=[DesiredWorkerLabel(key="zone", value="eu", required=True)])
    assert relabelled == {"worker": workers["eu"], "labels": {"zone": "eu", "memory": 512, "model": "v2"}}
    assert Worker.objects.get(id=workers["eu"]).labels == {"zone": "eu", "memory": 512, "model": "v2"}
    assert waiting.result() == {"worker": workers["eu"]}


def test_the_workers_client_lists_each_workers_labels(workers: dict[str, str]) -> None:
    from tests.hatchet.affinity_worker import hatchet

    listed = {w.metadata.id: {label.key: label.value for label in w.labels} for w in hatchet.workers.list().rows}
    assert listed[workers["us"]] == {"zone": "us", "memory": 2048}


def test_a_soft_sticky_run_keeps_every_task_on_the_worker_of_its_first(workers: dict[str, str]) -> None:
    results = [aw.soft.run() for _ in range(5)]
    assert [len(ran_on(result)) for result in results] == [1] * 5


@pytest.fixture
def gate() -> Iterator[Path]:
    GATE.touch()
    yield GATE
    GATE.unlink(missing_ok=True)


def _held_at_waits(workflow: Any) -> tuple[Any, str]:
    ref = workflow.run(wait_for_result=False)
    step = wait_until(
        lambda: StepRun.objects.filter(run_id=ref.workflow_run_id, name="waits", status="RUNNING").first(),
        what="the gated task to start",
    )
    return ref, str(step.worker_id)


def test_a_soft_sticky_run_moves_on_when_its_worker_takes_no_work(workers: dict[str, str], gate: Path) -> None:
    ref, first = _held_at_waits(aw.soft)
    services.pause_worker(first)
    try:
        gate.unlink()
        result = ref.result()
    finally:
        services.unpause_worker(first)
    other = next(w for w in workers.values() if w != first)
    assert (result["waits"]["worker"], result["after"]["worker"]) == (first, other)


def test_a_hard_sticky_run_waits_for_its_worker(workers: dict[str, str], gate: Path) -> None:
    ref, first = _held_at_waits(aw.hard)
    services.pause_worker(first)
    try:
        gate.unlink()
        wait_until(
            lambda: StepRun.objects.filter(run_id=ref.workflow_run_id, name="after", waiting_for="broker").exists(),
            what="the last task to wait for its worker",
        )
        time.sleep(2)  # several sweeps of the scheduler: the other worker may not take it
        held = StepRun.objects.get(run_id=ref.workflow_run_id, name="after").status
    finally:
        services.unpause_worker(first)
    assert (held, ran_on(ref.result())) == ("QUEUED", {first})


def test_children_spawned_sticky_run_on_their_parents_worker(workers: dict[str, str]) -> None:
    results = [aw.spawner.run() for _ in range(2)]
    assert [set(r["children"]) for r in results] == [{r["worker"]} for r in results]


def test_a_soft_sticky_run_whose_worker_dies_finishes_on_another(workers: dict[str, str], gate: Path) -> None:
    ref, first = _held_at_waits(aw.soft)  # the last test of the module: it kills a worker
    os.killpg(PROCESSES[first].pid, signal.SIGKILL)
    PROCESSES[first].wait()
    gate.unlink()
    result = ref.result()
    other = next(w for w in workers.values() if w != first)
    reassigned = Attempt.objects.filter(step__run_id=ref.workflow_run_id, step__name="waits", outcome="REASSIGNED")
    assert (result["waits"]["worker"], result["after"]["worker"], reassigned.count()) == (other, other, 1)
