"""Hatchet's names with their behaviour, and the bugs found running Hatchet's examples, against real Postgres,
Redis and a worker process started as a Hatchet user starts one (tests/hatchet/names_worker.py)."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from sfpserver.hatchet import V1TaskStatus
from sfpserver.hatchet.clients.rest.models.v1_task_event_type import V1TaskEventType
from tests.conftest import ROOT, Processes, wait_until
from tests.hatchet import names_workflows as wf
from workers.lifeline import die_with_parent


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as response:
            return bool(response.status == 200 and json.loads(response.read())["status"] == "HEALTHY")
    except OSError:
        return False


@pytest.fixture(scope="module", autouse=True)
def names_worker(platform: Processes) -> Iterator[subprocess.Popen[bytes]]:
    port = _free_port()
    env = platform.env(
        HATCHET_CLIENT_WORKER_HEALTHCHECK_ENABLED="true", HATCHET_CLIENT_WORKER_HEALTHCHECK_PORT=str(port)
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.hatchet.names_worker"],
        cwd=ROOT,
        env=env,
        start_new_session=True,
        preexec_fn=die_with_parent,
    )
    platform.procs["names-worker"] = proc
    wait_until(lambda: _healthy(port), timeout=60, what="the names worker's /health")
    yield proc
    platform.stop("names-worker")


# --- bugs -----------------------------------------------------------------------------------------------------


def test_children_are_listed_under_their_parents_run_id_and_under_the_spawning_task() -> None:
    ref = wf.fan_out.run(wait_for_result=False)
    step_id = ref.result()["spawn"]["step"]
    by_run = wf.hatchet.runs.list(parent_task_external_id=ref.workflow_run_id)
    by_step = wf.hatchet.runs.list(parent_task_external_id=step_id)
    assert sorted(r.input["n"] for r in by_run.rows) == [0, 1, 2]
    assert sorted(r.metadata.id for r in by_step.rows) == sorted(r.metadata.id for r in by_run.rows)
    assert {r.workflow_name for r in by_run.rows} == {"NamesChild"}


def test_the_aio_list_finds_the_children_by_parent_run_id_too() -> None:
    ref = wf.fan_out.run(wait_for_result=False)
    ref.result()
    rows = asyncio.run(wf.hatchet.runs.aio_list(parent_task_external_id=ref.workflow_run_id)).rows
    assert len(rows) == 3


def test_a_retried_tasks_events_say_failed_then_retrying_then_finished() -> None:
    ref = wf.retried_once.run(wait_for_result=False)
    assert ref.result() == {"attempt": 2}
    events = wf.hatchet.runs.get(ref.workflow_run_id).task_events
    assert [e.event_type for e in events] == [
        V1TaskEventType.STARTED,
        V1TaskEventType.FAILED,
        V1TaskEventType.RETRYING,
        V1TaskEventType.STARTED,
        V1TaskEventType.FINISHED,
    ]
    assert [e.retry_count for e in events] == [0, 0, 0, 1, 1]
    assert events[1].error_message == "the first attempt fails"
    assert len({e.task_id for e in events}) == 1


def test_a_running_run_lists_only_the_tasks_created_so_far(tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    ref = wf.gated_dag.run(wf.GateInput(gate=str(gate)), wait_for_result=False)
    wait_until(
        lambda: wf.hatchet.runs.get_details(ref.workflow_run_id).status == V1TaskStatus.RUNNING,
        what="the run to start",
    )
    running = wf.hatchet.runs.get_details(ref.workflow_run_id)
    assert set(running.task_runs) == {"opener"}
    assert [t.display_name.split("-")[0] for t in wf.hatchet.runs.get(ref.workflow_run_id).tasks] == ["opener"]
    gate.touch()
    ref.result()
    assert set(wf.hatchet.runs.get_details(ref.workflow_run_id).task_runs) == {"opener", "after_opener"}


# --- names with their behaviour -----------------------------------------------------------------------------


def test_outputs_pass_through_the_engine_in_the_serialisation_context() -> None:
    result = wf.serde.run()
    assert result["pack"]["text"] != "plain words"
    assert result["unpack"] == {"read": "plain words"}


def test_a_workflow_lists_its_own_runs_from_async_code() -> None:
    ref = wf.serde.run(wait_for_result=False)
    ref.result()
    runs = asyncio.run(wf.serde.aio_list_runs(since=timezone.now() - timedelta(minutes=5)))
    assert ref.workflow_run_id in {r.metadata.id for r in runs}
    assert {r.workflow_name for r in runs} == {"NamesSerde"}


def test_the_logs_client_lists_ctx_log_lines_and_captured_logger_lines() -> None:
    ref = wf.writes_logs.run(wait_for_result=False)
    ref.result()
    task_id = wf.hatchet.runs.get(ref.workflow_run_id).tasks[0].task_external_id
    lines = [line.message for line in wf.hatchet.logs.list(task_id).rows]
    assert lines == ["a line from ctx.log", "a line from the client's logger"]
    assert [line.message for line in asyncio.run(wf.hatchet.logs.aio_list(task_id, limit=1)).rows] == lines[:1]


def test_the_logs_of_an_unknown_task_run_are_refused_naming_it() -> None:
    unknown = str(uuid.uuid4())
    with pytest.raises(ValueError, match=f"Task run {unknown} not found"):
        wf.hatchet.logs.list(unknown)


def test_a_namespace_prefixes_workflow_names_and_event_keys() -> None:
    since = timezone.now() - timedelta(seconds=1)
    assert wf.in_namespace.name == "names-ns_NamesNamespaced"
    event = wf.namespaced.event.push("names:ns:event", {})
    assert event.key == "names-ns_names:ns:event"
    runs = wait_until(
        lambda: wf.hatchet.runs.list(since=since, triggering_event_external_id=event.event_id).rows,
        what="the event's run",
    )
    assert [r.workflow_name for r in runs] == ["names-ns_NamesNamespaced"]


def test_events_are_listed_with_the_runs_they_started() -> None:
    since = timezone.now() - timedelta(seconds=1)
    event = wf.namespaced.event.push("names:ns:event", {"a": 1}, additional_metadata={"case": "listing"})
    listed = wait_until(
        lambda: [
            e
            for e in asyncio.run(wf.namespaced.event.aio_list(since=since, keys=["names:ns:event"])).rows
            if e.metadata.id == event.event_id and e.triggered_runs
        ],
        what="the event and its run",
    )
    assert listed[0].payload == {"a": 1}
    assert listed[0].additional_metadata == {"case": "listing"}
    assert wf.hatchet.event.get(event.event_id).key == "names-ns_names:ns:event"


def test_a_task_reads_its_action_key_and_how_many_children_it_spawned() -> None:
    result = wf.spawn_count.run()
    assert result["key"] == f"{result['task_run_id']}/0"
    assert result["spawned"] == 2


def test_scheduled_runs_are_rescheduled_in_bulk_and_a_bad_id_is_reported_alone() -> None:
    later = timezone.now() + timedelta(days=3)
    scheduled = wf.names_child.schedule(later, wf.ChildInput(n=9))
    moved = later + timedelta(hours=1)
    result = asyncio.run(wf.hatchet.scheduled.aio_bulk_update([(scheduled.metadata.id, moved), ("nope", moved)]))
    try:
        assert result.updated_ids == [scheduled.metadata.id]
        assert [e["id"] for e in result.errors] == ["nope"]
        assert wf.hatchet.scheduled.get(scheduled.metadata.id).trigger_at == moved
    finally:
        wf.hatchet.scheduled.delete(scheduled.metadata.id)


def test_the_engine_version_claims_only_what_is_offered() -> None:
    assert asyncio.run(wf.hatchet.aio_get_engine_version()) == "v0.80.0"  # durable eviction, no trace store


def test_the_aio_twins_of_the_feature_clients_answer_as_their_sync_methods() -> None:
    async def read() -> tuple[object, ...]:
        return (
            await wf.hatchet.workflows.aio_list(workflow_name="NamesSerde"),
            await wf.hatchet.cron.aio_list(),
            await wf.hatchet.scheduled.aio_list(),
        )

    workflows, crons, scheduled = asyncio.run(read())
    assert [w.name for w in workflows.rows] == ["NamesSerde"]  # type: ignore[attr-defined]
    assert crons == wf.hatchet.cron.list()
    assert scheduled == wf.hatchet.scheduled.list()
