"""Bad input is refused with an error that names it, and nothing is recorded or enqueued."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.core.management import call_command
from django.test import override_settings

from config.celery import app
from sfpserver.engine.definitions import StepDef, WorkflowDef, backoff_delay
from sfpserver.engine.exceptions import InvalidInputError, InvalidWorkflowError, UnknownWorkflowError
from sfpserver.engine.models import StepRun, WorkflowRun
from sfpserver.engine.registry import register_workflow
from sfpserver.engine.trigger import trigger


@pytest.fixture
def nothing_recorded(db_access: None) -> Iterator[None]:
    """Asserts after the test that no run, step or broker message appeared."""
    runs, steps = WorkflowRun.objects.count(), StepRun.objects.count()
    with app.connection_for_write() as conn:
        queued = conn.default_channel.client.llen("standard")  # type: ignore[attr-defined]
    yield
    assert (WorkflowRun.objects.count(), StepRun.objects.count()) == (runs, steps)
    with app.connection_for_write() as conn:
        assert conn.default_channel.client.llen("standard") == queued  # type: ignore[attr-defined]


def _wf(*steps: StepDef) -> WorkflowDef:
    return WorkflowDef(name="bad", steps=steps)


@pytest.mark.usefixtures("nothing_recorded")
class TestRefusals:
    def test_an_unknown_workflow_is_refused_by_name(self) -> None:
        with pytest.raises(UnknownWorkflowError, match="no workflow named 'nope' is registered"):
            trigger("nope")

    def test_a_cycle_is_refused_and_named(self) -> None:
        cyclic = _wf(
            StepDef("a", "x", parents=("c",)), StepDef("b", "x", parents=("a",)), StepDef("c", "x", parents=("b",))
        )
        with pytest.raises(InvalidWorkflowError, match="cycle: a -> c -> b -> a") as caught:
            trigger(cyclic)
        assert caught.value.field == "steps"

    def test_a_dangling_parent_is_refused_and_named(self) -> None:
        with pytest.raises(InvalidWorkflowError, match="unknown parent step 'ghost'") as caught:
            trigger(_wf(StepDef("a", "x", parents=("ghost",))))
        assert caught.value.field == "steps.a.parents"

    def test_a_negative_retry_count_is_refused(self) -> None:
        with pytest.raises(InvalidWorkflowError, match="must be a whole number >= 0, got -1") as caught:
            trigger(_wf(StepDef("a", "x", retries=-1)))
        assert caught.value.field == "steps.a.retries"

    @pytest.mark.parametrize("timeout", [0, -5, "10s", float("nan")])
    def test_a_malformed_timeout_is_refused(self, timeout: object) -> None:
        with pytest.raises(InvalidWorkflowError) as caught:
            trigger(_wf(StepDef("a", "x", execution_timeout=timeout)))  # type: ignore[arg-type]
        assert caught.value.field == "steps.a.execution_timeout"

    def test_a_workflow_without_steps_is_refused(self) -> None:
        with pytest.raises(InvalidWorkflowError, match="has no steps"):
            trigger(_wf())

    def test_duplicate_step_names_are_refused(self) -> None:
        with pytest.raises(InvalidWorkflowError, match="duplicate step name"):
            trigger(_wf(StepDef("a", "x"), StepDef("a", "y")))

    def test_input_that_fails_the_validator_is_refused(self) -> None:
        def positive(value: object) -> object:
            if not isinstance(value, dict) or value.get("n", 0) <= 0:
                raise ValueError("n must be a positive number")
            return value

        register_workflow(WorkflowDef("validated", (StepDef("a", "x"),), input_validator=positive))
        with pytest.raises(InvalidInputError, match="input: n must be a positive number"):
            trigger("validated", {"n": -1})

    def test_an_input_that_is_not_json_is_refused(self) -> None:
        with pytest.raises(InvalidInputError, match="JSON"):
            trigger(_wf(StepDef("a", "x")), {"when": object()})

    def test_a_priority_out_of_range_is_refused(self) -> None:
        with pytest.raises(InvalidWorkflowError, match="priority: must be an integer from 1 to 3"):
            trigger(_wf(StepDef("a", "x")), priority=7)


def test_backoff_is_factor_to_the_power_of_the_retry_capped() -> None:
    assert [backoff_delay(2, 10, n) for n in (1, 2, 3, 4, 5)] == [2, 4, 8, 10, 10]
    assert [backoff_delay(5, 60, n) for n in (1, 2, 3)] == [5, 25, 60]
    assert backoff_delay(None, None, 3) == 0
    assert backoff_delay(2, None, 100) == 86400


def test_inconsistent_engine_timings_fail_the_system_checks() -> None:
    from django.core.management.base import SystemCheckError

    with (
        override_settings(ENGINE_WORKER_DEAD_AFTER=1.0, ENGINE_HEARTBEAT_INTERVAL=1.0),
        pytest.raises(SystemCheckError, match=r"engine\.E001"),
    ):
        call_command("check")


def test_retention_prunes_only_finished_runs_older_than_the_cutoff(db_access: None) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from sfpserver.engine.scheduler import prune_before

    old = WorkflowRun.objects.create(
        workflow_name="old", status="COMPLETED", finished_at=timezone.now() - timedelta(days=40)
    )
    StepRun.objects.create(run=old, name="s", action="x", queue="standard", execution_timeout=1, schedule_timeout=1)
    recent = WorkflowRun.objects.create(workflow_name="recent", status="COMPLETED", finished_at=timezone.now())
    running = WorkflowRun.objects.create(workflow_name="running", status="RUNNING")
    assert prune_before(timezone.now() - timedelta(days=30), batch=1) >= 1
    assert not WorkflowRun.objects.filter(id=old.id).exists()
    assert not StepRun.objects.filter(run_id=old.id).exists()
    assert WorkflowRun.objects.filter(id__in=[recent.id, running.id]).count() == 2
