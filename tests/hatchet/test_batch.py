"""Batch tasks end to end: an SDK worker process, the platform's scheduler, real Postgres and Redis. Each batch
call reports an id of its own (`call`), so the tests see which members ran together."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from sfpserver.engine.models import Attempt, BatchMember, StepRun, Worker
from sfpserver.hatchet.exceptions import FailedTaskRunExceptionGroup
from tests.conftest import ROOT, Processes, wait_until
from tests.hatchet import batch_worker as bw
from workers.lifeline import die_with_parent

GATE = Path(f"/tmp/batch-gate-{os.getpid()}")


def start_worker(platform: Processes, name: str) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.hatchet.batch_worker", name],
        cwd=ROOT,
        env=platform.env(BATCH_GATE=str(GATE)),
        start_new_session=True,
        preexec_fn=die_with_parent,
    )
    wait_until(
        lambda: Worker.objects.filter(name=name, pid=proc.pid, status="ACTIVE").exists(),
        timeout=90,
        what=f"the {name} worker",
    )
    return proc


@pytest.fixture(scope="module")
def worker(platform: Processes) -> Iterator[subprocess.Popen[bytes]]:
    proc = start_worker(platform, "batch-worker")
    yield proc
    if proc.poll() is None:
        proc.terminate()
        proc.wait(timeout=30)


def words(*items: str, group: str | int = "one") -> list[bw.Word]:
    return [bw.Word(word=item, group=group) for item in items]


def test_a_full_batch_runs_the_function_once_and_each_member_gets_its_own_output(
    worker: subprocess.Popen[bytes],
) -> None:
    results = bw.by_size.run_many([bw.by_size.create_bulk_run_item(w) for w in words("alpha", "bravo", "charlie")])
    assert [(r.upper, r.size) for r in results] == [("ALPHA", 3), ("BRAVO", 3), ("CHARLIE", 3)]
    assert len({r.call for r in results}) == 1


def test_members_arriving_apart_fill_one_batch_when_it_reaches_its_size(worker: subprocess.Popen[bytes]) -> None:
    refs = [bw.by_size.run(w, wait_for_result=False) for w in words("delta", "echo", "foxtrot")]
    results = [ref.result() for ref in refs]
    assert ([r.size for r in results], len({r.call for r in results})) == ([3, 3, 3], 1)


def test_a_batch_that_does_not_fill_runs_when_its_interval_is_over(worker: subprocess.Popen[bytes]) -> None:
    refs = [bw.by_time.run(w, wait_for_result=False) for w in words("golf", "hotel")]  # apart, within 2.5 s
    results = [ref.result() for ref in refs]
    assert [(r.upper, r.size) for r in results] == [("GOLF", 2), ("HOTEL", 2)]
    assert len({r.call for r in results}) == 1


def test_keyed_batches_hold_only_members_of_one_key(worker: subprocess.Popen[bytes]) -> None:
    inputs = [*words("india", group="t1"), *words("juliet", "kilo", group="t2"), *words("lima", group="t1")]
    results = bw.by_key.run_many([bw.by_key.create_bulk_run_item(w) for w in inputs])
    assert [(r.upper, r.size, r.keys) for r in results] == [
        ("INDIA", 2, 1),
        ("JULIET", 2, 1),
        ("KILO", 2, 1),
        ("LIMA", 2, 1),
    ]
    assert (results[0].call, results[1].call) == (results[3].call, results[2].call)


def test_a_member_whose_key_is_not_a_string_fails_alone(worker: subprocess.Popen[bytes]) -> None:
    good = bw.by_key.run(bw.Word(word="mike", group="t3"), wait_for_result=False)
    bad = bw.by_key.run(bw.Word(word="november", group=7), wait_for_result=False)
    with pytest.raises(FailedTaskRunExceptionGroup) as failed:
        bad.result()
    partner = bw.by_key.run(bw.Word(word="oscar", group="t3"))
    assert "failed to parse batch group key expression 'input.group': it gave int, not a string" in str(failed.value)
    assert (good.result().upper, partner.upper, good.result().size) == ("MIKE", "OSCAR", 2)


def test_a_broadcast_output_goes_to_every_member(worker: subprocess.Popen[bytes]) -> None:
    results = bw.broadcast.run_many([bw.broadcast.create_bulk_run_item(w) for w in words("ab", "cde", "f", "ghij")])
    assert [r.letters for r in results] == [10, 10, 10, 10]
    assert len({r.call for r in results}) == 1


def test_a_member_the_function_returns_nothing_for_fails_and_the_other_completes(
    worker: subprocess.Popen[bytes],
) -> None:
    refs = bw.forgetful.run_many_no_wait([bw.forgetful.create_bulk_run_item(w) for w in words("papa", "quebec")])
    outcomes = []
    for ref in refs:
        try:
            outcomes.append(("completed", bool(ref.result()["kept"])))
        except FailedTaskRunExceptionGroup as error:
            outcomes.append(("failed", "the batch function returned no output for member" in str(error)))
    assert sorted(outcomes) == [("completed", True), ("failed", True)]


def test_a_batch_task_of_a_workflow_runs_once_its_parents_are_done(worker: subprocess.Popen[bytes]) -> None:
    results = bw.pipeline.run_many([bw.pipeline.create_bulk_run_item(w) for w in words("uniform", "victor")])
    assert [(r["prepare"]["prepared"], r["shout"]) for r in results] == [
        ("uniformuniform", {"upper": "UNIFORM", "size": 2, "seen": True}),
        ("victorvictor", {"upper": "VICTOR", "size": 2, "seen": True}),
    ]


def test_members_of_a_batch_whose_worker_dies_go_back_and_run_in_a_later_batch(
    platform: Processes, worker: subprocess.Popen[bytes]
) -> None:
    GATE.touch()
    try:
        refs = [bw.gated.run(w, wait_for_result=False) for w in words("romeo", "sierra", "tango")]
        run_ids = [ref.workflow_run_id for ref in refs]
        wait_until(
            lambda: StepRun.objects.filter(run_id__in=run_ids, status="RUNNING").count() == 3,
            what="the batch to start",
        )
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()
        GATE.unlink()
        replacement = start_worker(platform, "batch-worker-2")
        try:
            results = [ref.result() for ref in refs]
        finally:
            replacement.terminate()
            replacement.wait(timeout=30)
    finally:
        GATE.unlink(missing_ok=True)
    outcomes = sorted(Attempt.objects.filter(step__run_id__in=run_ids).values_list("number", "outcome"))
    assert ([r.upper for r in results], len({r.call for r in results})) == (["ROMEO", "SIERRA", "TANGO"], 1)
    assert outcomes == [(0, "REASSIGNED")] * 3 + [(1, "COMPLETED")] * 3
    assert not BatchMember.objects.filter(step__run_id__in=run_ids).exists()
