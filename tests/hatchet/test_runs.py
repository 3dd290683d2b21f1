"""The SDK driven as a Hatchet user drives it: a worker process started with hatchet.worker(...).start()
serves the workflows of tests/hatchet/workflows.py; the tests trigger them and read results and runs."""

from __future__ import annotations

import asyncio

import pytest

from sfpserver.engine.models import StepRun, WorkflowRun
from sfpserver.hatchet import FailedTaskRunExceptionGroup, TaskRunError, V1TaskStatus
from tests.conftest import wait_until
from tests.hatchet import workflows as wf
from tests.hatchet.conftest import health

pytestmark = pytest.mark.usefixtures("sdk_worker")


def test_the_worker_reports_healthy_on_its_health_endpoint() -> None:
    status, body = health()
    assert status == 200
    assert body["status"] == "HEALTHY"


def test_a_dag_returns_outputs_keyed_by_lower_cased_task_name() -> None:
    result = wf.dag.run(wf.StepInput(value=3))
    assert set(result) == {"first", "second", "third", "final"}
    assert result["first"] == {"doubled": 6}
    assert result["second"] == {"plus_one": 7}
    assert result["third"] == {"times_ten": 60}
    assert result["final"]["sum"] == 67
    assert result["final"]["retry_count"] == 0


def test_run_without_waiting_returns_a_ref_whose_result_can_be_awaited() -> None:
    ref = wf.dag.run(wf.StepInput(value=1), wait_for_result=False)
    assert WorkflowRun.objects.filter(id=ref.workflow_run_id).exists()
    result = asyncio.run(ref.aio_result())
    assert result["final"]["workflow_run_id"] == ref.workflow_run_id
    assert str(ref) == ref.workflow_run_id


def test_a_standalone_task_returns_its_typed_output() -> None:
    output = wf.double.run(wf.StepInput(value=21))
    assert output == wf.StepOutput(doubled=42)
    assert asyncio.run(wf.double.aio_run(wf.StepInput(value=2))) == wf.StepOutput(doubled=4)


def test_run_many_returns_results_in_order() -> None:
    results = wf.double.run_many([wf.double.create_bulk_run_item(wf.StepInput(value=v)) for v in range(5)])
    assert [r.doubled for r in results] == [0, 2, 4, 6, 8]


def test_it_retries_a_failing_task_and_counts_attempts() -> None:
    result = wf.retrying.run(wf.StepInput(fail_times=2))
    assert result["flaky"] == {"attempts": 3, "max_attempts": 4}


def test_a_failed_run_raises_the_failures_in_hatchets_format() -> None:
    with pytest.raises(FailedTaskRunExceptionGroup) as caught:
        wf.failing.run()
    group = caught.value
    assert str(group).startswith(f"Workflow run {_last_run('SdkFailing').id} failed.")
    [error] = group.exceptions
    assert (error.exc_type, error.exc) == ("ValueError", "this always fails")
    assert "Traceback" in error.trace and "always_fails" in error.trace
    assert "--- Exception 1 ---" in str(group)
    steps = {s.name: s for s in StepRun.objects.filter(run=_last_run("SdkFailing"))}
    assert steps["always_fails"].attempt == 1  # retried once
    assert steps["never_runs"].status == "CANCELLED"
    assert steps["report-on-failure"].status == "COMPLETED"
    assert steps["report-on-failure"].output == {"failed": ["always_fails"], "type": "ValueError"}


def test_a_non_retryable_exception_skips_the_remaining_retries() -> None:
    with pytest.raises(FailedTaskRunExceptionGroup) as caught:
        wf.non_retryable.run()
    assert [e.exc_type for e in caught.value.exceptions] == ["NonRetryableException"]
    assert StepRun.objects.get(run=_last_run("SdkNonRetryable"), name="refuses").attempt == 0


def test_task_run_errors_round_trip_through_the_wire_format() -> None:
    error = TaskRunError("bad thing", "Custom: Error", "Traceback (most recent call last):\n  x", "abc")
    parsed = TaskRunError.deserialize(error.serialize(include_metadata=True))
    assert (parsed.exc, parsed.exc_type, parsed.trace, parsed.task_run_external_id) == (
        "bad thing",
        "Custom: Error",
        "Traceback (most recent call last):\n  x",
        "abc",
    )


def test_an_execution_timeout_fails_the_task_with_hatchets_message() -> None:
    with pytest.raises(FailedTaskRunExceptionGroup) as caught:
        wf.timeouts.run()
    messages = [str(e) for e in caught.value.exceptions]
    assert len(messages) == 1
    assert "Task exceeded timeout of 1s" in messages[0]
    run = _last_run("SdkTimeout")
    assert StepRun.objects.get(run=run, name="refreshes").status == "COMPLETED"


def test_an_illegal_output_fails_the_task() -> None:
    with pytest.raises(FailedTaskRunExceptionGroup) as caught:
        wf.bad_output.run()
    assert caught.value.exceptions[0].exc_type == "IllegalTaskOutputError"


def test_cancelling_a_run_raises_value_error_for_result_and_stops_the_tasks() -> None:
    ref = wf.cancellable.run(wait_for_result=False)
    wait_until(
        lambda: StepRun.objects.filter(run_id=ref.workflow_run_id, status="RUNNING").count() == 2,
        what="both tasks to start",
    )
    wf.hatchet.runs.cancel(ref.workflow_run_id)
    with pytest.raises(ValueError, match=f"Workflow run {ref.workflow_run_id} was cancelled."):
        ref.result()
    assert wf.hatchet.runs.get_status(ref.workflow_run_id) == V1TaskStatus.CANCELLED
    assert asyncio.run(ref.aio_result()) == {}  # aio_result does not raise on a cancelled run


def test_a_task_that_cancels_itself_makes_the_run_cancelled() -> None:
    ref = wf.self_cancel.run(wait_for_result=False)
    with pytest.raises(ValueError, match="was cancelled"):
        ref.result()


def test_stream_chunks_arrive_in_order_and_the_stream_ends_with_the_run() -> None:
    ref = wf.streamer.run(wait_for_result=False)

    async def collect() -> list[str]:
        return [chunk async for chunk in wf.hatchet.runs.subscribe_to_stream(ref.workflow_run_id)]

    chunks = asyncio.run(collect())
    assert chunks == [f"chunk-{i:02d}" for i in range(20)]


def test_children_get_parent_ids_and_metadata_and_a_retried_parent_reuses_them() -> None:
    result = wf.parent.run(additional_metadata={"team": "core"})
    assert result == {"ns": [0, 1, 2], "keyed": 99}
    parent_run = _last_run("SdkParent")
    children = WorkflowRun.objects.filter(parent_step__run=parent_run)
    assert children.count() == 4  # the retry spawned nothing new
    for child in children:
        assert child.additional_metadata["team"] == "core"
        assert (child.output or {})["sdkchild"]["parent"] == str(parent_run.id)


def test_an_event_starts_the_workflows_listening_for_it_with_event_metadata() -> None:
    event = wf.hatchet.event.push("sdk:user:created", {"user": "ada"}, additional_metadata={"source": "test"})
    run = wait_until(
        lambda: WorkflowRun.objects.filter(
            workflow_name="SdkOnEvent", additional_metadata__contains={"hatchet__event_id": event.event_id}
        ).first(),
        what="the event's run",
    )
    result = wf.hatchet.runs.get_run_ref(str(run.id)).result()
    assert result["sdkonevent"] == {"payload": {"user": "ada"}, "event_key": "sdk:user:created"}
    assert run.additional_metadata["source"] == "test"
    wf.hatchet.event.push("sdk:order:created", {})
    assert not WorkflowRun.objects.filter(
        workflow_name="SdkOnEvent", additional_metadata__contains={"hatchet__event_key": "sdk:order:created"}
    ).exists()


def test_the_runs_client_reads_details_and_lists_runs() -> None:
    ref = wf.dag.run(wf.StepInput(value=5), wait_for_result=False, additional_metadata={"kind": "listed"})
    ref.result()
    details = wf.hatchet.runs.get_details(ref.workflow_run_id)
    assert details.status == V1TaskStatus.COMPLETED and details.done
    assert set(details.task_runs) == {"first", "second", "third", "final"}
    assert details.task_runs["first"].output == {"doubled": 10}
    full = wf.hatchet.runs.get(ref.workflow_run_id)
    assert full.run.status == V1TaskStatus.COMPLETED
    assert len(full.tasks) == 4
    listed = wf.hatchet.runs.list(workflow_ids=["SdkDag"], additional_metadata={"kind": "listed"})
    assert [row.metadata.id for row in listed.rows] == [ref.workflow_run_id]


def test_replaying_a_task_reruns_it_and_its_descendants_only() -> None:
    ref = wf.dag.run(wf.StepInput(value=1), wait_for_result=False)
    ref.result()
    second = StepRun.objects.get(run_id=ref.workflow_run_id, name="second")
    wf.hatchet.runs.replay(str(second.id))
    wait_until(
        lambda: StepRun.objects.get(id=second.id).attempt == 1
        and WorkflowRun.objects.get(id=ref.workflow_run_id).status == "COMPLETED",
        what="the replay",
    )
    steps = {s.name: s.attempt for s in StepRun.objects.filter(run_id=ref.workflow_run_id)}
    assert steps == {"first": 0, "second": 1, "third": 0, "final": 1}


def test_workers_client_lists_the_worker_as_active() -> None:
    workers = [w for w in wf.hatchet.workers.list().rows if w.name == "sdk-test-worker"]
    assert workers and workers[0].status.value == "ACTIVE"


def _last_run(name: str) -> WorkflowRun:
    run = WorkflowRun.objects.filter(workflow_name=name).order_by("-created_at").first()
    assert run is not None
    return run
