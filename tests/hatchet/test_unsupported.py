"""Every Hatchet option the SDK accepts and does not act on warns once, and the README lists exactly those."""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
import warnings
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from sfpserver.hatchet import (
    Context,
    DefaultFilter,
    DesiredWorkerLabel,
    EmptyModel,
    EvictionPolicy,
    Hatchet,
    StickyStrategy,
    TaskDefaults,
)
from sfpserver.hatchet.config import ClientConfig
from sfpserver.hatchet.context import DurableContext
from sfpserver.hatchet.exceptions import RetryAfterException
from sfpserver.hatchet.types import ScheduleTriggerWorkflowOptions, TriggerWorkflowOptions
from sfpserver.hatchet.unsupported import REGISTRY, UnsupportedOptionWarning, forget_warnings, unsupported

README = Path(__file__).resolve().parents[2] / "README.md"
ROW = re.compile(r"^\| `(?P<where>[^`]+)` \| `(?P<option>[^`]+)` \|", re.MULTILINE)


def readme_listed() -> set[tuple[str, str]]:
    text = README.read_text()
    section = text.split("### Where it differs from Hatchet", 1)[1].split("\n## ", 1)[0]
    return {(m["option"], m["where"]) for m in ROW.finditer(section)}


@pytest.fixture(autouse=True)
def fresh() -> Iterator[None]:
    forget_warnings()
    yield
    forget_warnings()


@pytest.fixture
def hatchet() -> Hatchet:
    return Hatchet()


def warned(action: Callable[[], Any]) -> list[str]:
    """The unsupported-option warnings `action` gives."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        action()
    return [str(w.message) for w in caught if issubclass(w.category, UnsupportedOptionWarning)]


def noop(input: EmptyModel, ctx: Context) -> None:
    return None


def name() -> str:
    return f"Unsupported{uuid.uuid4().hex[:8]}"


# --- the README and the registry -------------------------------------------------------------------------------


def test_every_registered_option_is_listed_in_the_readme() -> None:
    assert set(REGISTRY) - readme_listed() == set()


def test_every_option_the_readme_lists_is_registered() -> None:
    assert readme_listed() - set(REGISTRY) == set()


def test_an_option_missing_from_the_registry_cannot_be_warned_about() -> None:
    with pytest.raises(KeyError):
        unsupported("made_up", "task")


def test_the_warning_says_where_what_and_what_happens_instead() -> None:
    assert warned(lambda: unsupported("slot_cost", "task")) == [
        "task: `slot_cost` is accepted but not acted on: every task takes one slot (see the README)"
    ]


def test_it_also_logs_the_warning(caplog: pytest.LogCaptureFixture) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        unsupported("slot_cost", "task")
    assert [(r.levelname, r.option, r.where) for r in caplog.records] == [("WARNING", "slot_cost", "task")]  # type: ignore[attr-defined]


# --- registration: workflow options ---------------------------------------------------------------------------

WORKFLOW_OPTIONS: dict[str, dict[str, Any]] = {
    "task_defaults.priority": {"task_defaults": TaskDefaults(priority=3)},
}


@pytest.mark.parametrize("option", sorted(WORKFLOW_OPTIONS))
def test_a_workflow_option_not_acted_on_warns_once_at_registration(hatchet: Hatchet, option: str) -> None:
    first = warned(lambda: hatchet.workflow(name=name(), **WORKFLOW_OPTIONS[option]))
    again = warned(lambda: hatchet.workflow(name=name(), **WORKFLOW_OPTIONS[option]))
    assert (len(first), option in first[0], again) == (1, True, [])


def test_a_standalone_tasks_default_filters_are_acted_on_and_do_not_warn(hatchet: Hatchet) -> None:
    default_filters = [DefaultFilter(expression="input.ok == true", scope="s")]
    assert warned(lambda: hatchet.task(name=name(), default_filters=default_filters)(noop)) == []


def test_a_sticky_workflow_is_acted_on_and_does_not_warn(hatchet: Hatchet) -> None:
    assert warned(lambda: hatchet.task(name=name(), sticky=StickyStrategy.HARD)(noop)) == []


def test_a_workflow_without_such_options_does_not_warn(hatchet: Hatchet) -> None:
    defaults = TaskDefaults(retries=2)
    assert warned(lambda: hatchet.workflow(name=name(), default_priority=2, task_defaults=defaults)) == []


# --- registration: task options -------------------------------------------------------------------------------

OTHER_LABEL = DesiredWorkerLabel(key="gpu", value="yes", required=True)
TASK_OPTIONS: dict[str, dict[str, Any]] = {
    "slot_cost": {"slot_cost": 2},
}


@pytest.mark.parametrize("option", sorted(TASK_OPTIONS))
def test_a_task_option_not_acted_on_warns_once_at_registration(hatchet: Hatchet, option: str) -> None:
    first = warned(lambda: hatchet.workflow(name=name()).task(**TASK_OPTIONS[option])(noop))
    again = warned(lambda: hatchet.workflow(name=name()).task(**TASK_OPTIONS[option])(noop))
    assert (len(first), f"`{option}`" in first[0], again) == (1, True, [])


def test_the_pool_label_is_acted_on_and_does_not_warn(hatchet: Hatchet) -> None:
    pool = DesiredWorkerLabel(key="pool", value="long-running", required=True)
    assert warned(lambda: hatchet.workflow(name=name()).task(desired_worker_labels=[pool])(noop)) == []


def test_other_desired_labels_are_acted_on_and_do_not_warn(hatchet: Hatchet) -> None:
    assert warned(lambda: hatchet.workflow(name=name()).task(desired_worker_labels=[OTHER_LABEL])(noop)) == []


def test_a_standalone_task_warns_for_its_task_options(hatchet: Hatchet) -> None:
    assert len(warned(lambda: hatchet.task(name=name(), slot_cost=3)(noop))) == 1


def test_an_eviction_priority_warns_once_at_registration_and_a_ttl_does_not(hatchet: Hatchet) -> None:
    ranked = EvictionPolicy(ttl=timedelta(seconds=60), priority=3)
    first = warned(lambda: hatchet.durable_task(name=name(), eviction_policy=ranked)(noop))
    again = warned(lambda: hatchet.workflow(name=name()).durable_task(eviction_policy=ranked)(noop))
    ttl_only = warned(lambda: hatchet.durable_task(name=name(), eviction_policy=EvictionPolicy(ttl=None))(noop))
    assert (len(first), "eviction_policy.priority" in first[0], again, ttl_only) == (1, True, [], [])


# --- use: context, exceptions, imports ------------------------------------------------------------------------


def test_releasing_a_slot_warns_once(hatchet: Hatchet) -> None:
    def releases(input: EmptyModel, ctx: Context) -> None:
        ctx.release_slot()
        ctx.release_slot()

    task = hatchet.workflow(name=name()).task()(releases)
    assert len(warned(lambda: task.mock_run())) == 1


def test_a_durable_sleep_in_a_mock_run_sleeps_without_a_warning(hatchet: Hatchet) -> None:
    async def sleeps(input: EmptyModel, ctx: DurableContext) -> dict[str, int]:
        first = await ctx.aio_sleep_for(timedelta(0))
        return {"slept": int(first.duration.total_seconds())}

    task = hatchet.workflow(name=name()).durable_task()(sleeps)
    assert warned(lambda: asyncio.run(task.aio_mock_run())) == []


def test_raising_retry_after_warns_once_and_still_raises(hatchet: Hatchet) -> None:
    def retry_later(input: EmptyModel, ctx: Context) -> None:
        raise RetryAfterException("later", after=timedelta(seconds=5))

    task = hatchet.workflow(name=name()).task()(retry_later)

    def twice() -> None:
        for _ in range(2):
            with pytest.raises(RetryAfterException):
                task.mock_run()

    assert len(warned(twice)) == 1


def test_importing_dedupe_violation_error_warns_once() -> None:
    import sfpserver.hatchet as sdk

    assert len(warned(lambda: (sdk.DedupeViolationError, sdk.DedupeViolationError))) == 1


# --- use: run options -----------------------------------------------------------------------------------------


def test_a_desired_worker_id_without_sticky_warns_once(hatchet: Hatchet) -> None:
    workflow = hatchet.workflow(name=name())
    workflow.task()(noop)
    first = warned(lambda: workflow.create_bulk_run_item(desired_worker_id="a-worker"))
    again = warned(lambda: workflow.create_bulk_run_item(options=TriggerWorkflowOptions(desired_worker_id="w")))
    assert (len(first), "run: `desired_worker_id`" in first[0], again) == (1, True, [])


@pytest.mark.parametrize(
    "options",
    [
        {"sticky": True},
        {"sticky": True, "desired_worker_id": "a-worker"},
        {"desired_worker_labels": [OTHER_LABEL]},
        {"options": TriggerWorkflowOptions(sticky=True)},
    ],
)
def test_the_affinity_run_options_are_acted_on_and_do_not_warn(hatchet: Hatchet, options: dict[str, Any]) -> None:
    workflow = hatchet.workflow(name=name())
    workflow.task()(noop)
    assert warned(lambda: workflow.create_bulk_run_item(**options)) == []


@pytest.mark.usefixtures("db_access")
def test_scheduling_with_a_child_key_warns_once(hatchet: Hatchet) -> None:
    workflow = hatchet.workflow(name=name())
    workflow.task()(noop)
    later = datetime.now(UTC) + timedelta(days=1)
    options = ScheduleTriggerWorkflowOptions(child_key="k")
    made: list[Any] = []

    def schedule_twice() -> None:
        made.append(workflow.schedule(later, child_key="k"))
        made.append(workflow.schedule(later, options=options))

    found = warned(schedule_twice)
    hatchet.scheduled.bulk_delete([scheduled.metadata.id for scheduled in made])
    assert len(found) == 1


# --- use: clients and workers ---------------------------------------------------------------------------------


def test_a_client_config_with_connection_settings_warns_once() -> None:
    config = ClientConfig(token="ey-not-used", host_port="hatchet:7070")
    messages = warned(lambda: [Hatchet(config=config), Hatchet(config=config)])
    assert len(messages) == 1
    assert "host_port, token" in messages[0]


def test_a_client_config_with_only_what_is_used_does_not_warn() -> None:
    config = ClientConfig(namespace="team", logger=logging.getLogger("team"), debug=True)
    assert warned(lambda: Hatchet(config=config)) == []


def test_durable_slots_warn_once(hatchet: Hatchet) -> None:
    workflow = hatchet.workflow(name=name())
    workflow.task()(noop)
    assert len(warned(lambda: [hatchet.worker("w", durable_slots=5, workflows=[workflow]) for _ in range(2)])) == 1


@pytest.mark.usefixtures("db_access")
def test_pausing_a_worker_warns_once(hatchet: Hatchet) -> None:
    def pause_twice() -> None:
        for _ in range(2):
            with pytest.raises(ValueError, match="worker not found"):
                hatchet.workers.pause(str(uuid.uuid4()))

    assert len(warned(pause_twice)) == 1


@pytest.mark.usefixtures("db_access")
@pytest.mark.parametrize(
    ("where", "call"),
    [
        ("hatchet.cron.list", lambda h: h.cron.list(limit=10)),
        ("hatchet.scheduled.list", lambda h: h.scheduled.list(limit=10)),
        ("hatchet.scheduled.bulk_delete", lambda h: h.scheduled.bulk_delete(workflow_id="x")),
    ],
)
def test_a_listing_filter_not_acted_on_warns_once(hatchet: Hatchet, where: str, call: Any) -> None:
    assert [w.split(":")[0] for w in warned(lambda: [call(hatchet), call(hatchet)])] == [where]


def test_a_batch_task_with_desired_labels_warns_once(hatchet: Hatchet) -> None:
    def batch(tasks: dict[str, Any], ctx: Context) -> dict[str, Any]:
        return {}

    declare = hatchet.batch_task
    first = warned(lambda: declare(name=name(), batch_max_size=2, desired_worker_labels=[OTHER_LABEL])(batch))
    again = warned(lambda: declare(name=name(), batch_max_size=2, desired_worker_labels=[OTHER_LABEL])(batch))
    assert (len(first), "batch_task: `desired_worker_labels`" in first[0], again) == (1, True, [])
