"""Hatchet's names, importable from the same module paths under `sfpserver.hatchet`, and the pure rules behind
them (namespaces, the engine version, task events, the serialisation context). No servers needed.

`IMPORTS` is our own list of what Hatchet's example programs import (`hatchet_sdk` written `sfpserver.hatchet`);
when Hatchet's repository is on this machine, a second test checks that the examples import nothing else."""

from __future__ import annotations

import ast
import asyncio
import importlib
import subprocess
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from sfpserver.engine.services import AttemptView, StepView
from sfpserver.hatchet.clients.rest.api.task_api import TaskApi
from sfpserver.hatchet.clients.rest.models.v1_task_event_type import V1TaskEventType
from sfpserver.hatchet.conditions import OrGroup, SleepCondition, UserEventCondition, flatten_conditions, or_
from sfpserver.hatchet.config import ClientConfig, ClientTLSConfig
from sfpserver.hatchet.engine_support import engine_version
from sfpserver.hatchet.engine_version import MinEngineVersion
from sfpserver.hatchet.exceptions import IdempotencyCollisionError, NonDeterminismError
from sfpserver.hatchet.runs import _attempt_events, created
from sfpserver.hatchet.serde import HATCHET_PYDANTIC_SENTINEL, is_in_hatchet_serialization_context
from sfpserver.hatchet.workflow import TRIGGER_CONTEXT

ROOT = "sfpserver.hatchet"
IMPORTS: dict[str, tuple[str, ...]] = {
    "": (
        "BulkCancelReplayOpts", "BulkTriggerIdempotencyCollisionError", "ClientConfig", "ConcurrencyExpression",
        "ConcurrencyLimitStrategy", "Context", "DefaultFilter", "Depends", "DurableContext", "EmptyModel",
        "EvictionPolicy", "FailedTaskRunExceptionGroup", "Hatchet", "IdempotencyCollisionError", "ParentCondition",
        "Priority", "RateLimit", "RateLimitDuration", "RunFilter", "RunStatus", "SleepCondition",
        "StatusBasedIdempotencyConfig", "StickyStrategy", "TTLBasedIdempotencyConfig", "Task", "TaskDefaults",
        "TaskRunRef", "TriggerWorkflowOptions", "UserEventCondition", "V1TaskStatus", "WorkerLabel",
        "WorkerLabelComparator", "WorkflowRunRef", "or_",
    ),
    "clients.admin": ("WorkflowRunDetail",),
    "clients.events": ("BulkPushEventWithMetadata", "Event"),
    "clients.listeners.run_event_listener": ("StepRunEventType",),
    "clients.rest.api.observability_api": ("ObservabilityApi",),
    "clients.rest.api.task_api": ("TaskApi",),
    "clients.rest.models.otel_span": ("OtelSpan",),
    "clients.rest.models.scheduled_run_status": ("ScheduledRunStatus",),
    "clients.rest.models.v1_event": ("V1Event",),
    "clients.rest.models.v1_task_event_type": ("V1TaskEventType",),
    "clients.rest.models.v1_task_status": ("V1TaskStatus",),
    "clients.rest.models.v1_task_summary": ("V1TaskSummary",),
    "clients.rest.models.v1_task_summary_list": ("V1TaskSummaryList",),
    "clients.rest.models.v1_webhook": ("V1Webhook",),
    "clients.rest.models.v1_webhook_api_key_auth": ("V1WebhookAPIKeyAuth",),
    "clients.rest.models.v1_webhook_basic_auth": ("V1WebhookBasicAuth",),
    "clients.rest.models.v1_webhook_hmac_algorithm": ("V1WebhookHMACAlgorithm",),
    "clients.rest.models.v1_webhook_hmac_auth": ("V1WebhookHMACAuth",),
    "clients.rest.models.v1_webhook_hmac_encoding": ("V1WebhookHMACEncoding",),
    "clients.rest.models.v1_webhook_source_name": ("V1WebhookSourceName",),
    "clients.rest.models.v1_workflow_run_details": ("V1WorkflowRunDetails",),
    "context.context": ("Context",),
    "exceptions": (
        "DedupeViolationError", "FailedTaskRunExceptionGroup", "NonDeterminismError", "NonRetryableException",
        "TaskRunError",
    ),
    "hatchet": ("Hatchet",),
    "labels": ("DesiredWorkerLabel",),
    "opentelemetry.instrumentor": ("HatchetInstrumentor",),
    "rate_limit": ("RateLimit", "RateLimitDuration"),
    "runnables.contextvars": ("ctx_action_key", "workflow_spawn_indices"),
    "runnables.eviction": ("EvictionPolicy",),
    "runnables.task": ("Depends",),
    "runnables.types": ("BatchMemberId", "EmptyModel"),
    "runnables.workflow": ("BaseWorkflow", "MCPProvider", "Standalone", "Workflow"),
    "serde": ("is_in_hatchet_serialization_context",),
    "workflow_run": ("WorkflowRunRef",),
    # What Hatchet's test harness (its conftest.py) imports.
    "deprecated.deprecation": ("semver_less_than",),
    "engine_version": ("MinEngineVersion",),
}  # fmt: skip
MIRROR = Path("/work/.mirror/hatchet-dev+hatchet/repo")


def _module(path: str) -> str:
    return f"{ROOT}.{path}" if path else ROOT


def _cases() -> list[Any]:
    cases = []
    for path, names in IMPORTS.items():
        for name in names:
            cases.append(pytest.param(path, name, id=f"{_module(path)}:{name}"))
    return cases


@pytest.mark.parametrize(("path", "name"), _cases())
def test_every_name_hatchets_examples_import_resolves_at_the_same_path(path: str, name: str) -> None:
    assert getattr(importlib.import_module(_module(path)), name) is not None


def _example_imports() -> set[tuple[str, str]]:
    """(module under hatchet_sdk, name) for every `from hatchet_sdk... import` in Hatchet's examples."""
    git = ["git", "-C", str(MIRROR)]
    files = subprocess.run([*git, "ls-tree", "-r", "--name-only", "HEAD", "sdks/python/examples"], check=True,
                           capture_output=True, text=True).stdout.split()  # fmt: skip
    found: set[tuple[str, str]] = set()
    for file in (f for f in files if f.endswith(".py")):
        source = subprocess.run([*git, "show", f"HEAD:{file}"], check=True, capture_output=True, text=True).stdout
        try:
            tree = ast.parse(source)
        except SyntaxError:  # a file for a newer Python than ours
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "hatchet_sdk":
                module = (node.module or "").removeprefix("hatchet_sdk").removeprefix(".")
                found |= {(module, alias.name) for alias in node.names}
    return found


@pytest.mark.skipif(not MIRROR.exists(), reason="Hatchet's repository is not on this machine")
def test_the_list_holds_every_import_of_hatchets_examples() -> None:
    listed = {(path, name) for path, names in IMPORTS.items() for name in names}
    assert _example_imports() - listed == set()


# --- ClientConfig and the namespace -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "namespace"), [("", ""), ("Team", "team_"), ("team_", "team_"), ("A-B", "a-b_")]
)  # fmt: skip
def test_a_namespace_is_lower_cased_and_ends_in_an_underscore(given: str, namespace: str) -> None:
    assert ClientConfig(namespace=given).namespace == namespace


@pytest.mark.parametrize(
    ("namespace", "name", "override", "expected"),
    [
        ("", "wf", None, "wf"),
        ("team", "wf", None, "team_wf"),
        ("team", "team_wf", None, "team_wf"),
        ("team", "wf", "other_", "other_wf"),
        ("team", None, None, None),
    ],
)
def test_apply_namespace_prefixes_once(namespace: str, name: str | None, override: str | None, expected: str) -> None:
    assert ClientConfig(namespace=namespace).apply_namespace(name, override) == expected


def test_the_namespace_comes_from_the_environment_when_not_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HATCHET_CLIENT_NAMESPACE", "Staging")
    assert ClientConfig().namespace == "staging_"
    assert ClientConfig(namespace="prod").namespace == "prod_"


def test_a_client_config_names_the_fields_it_does_not_act_on() -> None:
    assert ClientConfig(namespace="x", token="t", tls_config=ClientTLSConfig(strategy="none")).unused_fields() == [
        "tls_config",
        "token",
    ]


# --- the engine version -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("offered", "version"),
    [
        (set(), None),
        ({MinEngineVersion.SLOT_CONFIG}, "v0.78.23"),
        ({MinEngineVersion.SLOT_CONFIG, MinEngineVersion.OBSERVABILITY}, "v0.78.23"),
        ({MinEngineVersion.SLOT_CONFIG, MinEngineVersion.DURABLE_EVICTION}, "v0.80.0"),
        (set(MinEngineVersion), "v0.88.1"),
    ],
)
def test_the_engine_version_stops_below_the_first_feature_not_offered(offered: set[Any], version: str) -> None:
    assert engine_version(frozenset(offered)) == version


# --- task events and created tasks ------------------------------------------------------------------------------

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _attempt(number: int, outcome: str, finished: bool = True) -> AttemptView:
    start = T0 + timedelta(seconds=10 * number)
    end = start + timedelta(seconds=1) if finished else None
    error = "" if outcome in ("COMPLETED", "RUNNING") else "boom"
    return AttemptView(number + 1, uuid.UUID(int=7), number, outcome, None, "", start, end, "", error, "")


@pytest.mark.parametrize(
    ("outcome", "retried", "kinds"),
    [
        ("COMPLETED", False, ["STARTED", "FINISHED"]),
        ("FAILED", True, ["STARTED", "FAILED", "RETRYING"]),
        ("FAILED", False, ["STARTED", "FAILED"]),
        ("TIMED_OUT", True, ["STARTED", "TIMED_OUT", "RETRYING"]),
        ("REASSIGNED", True, ["STARTED", "REASSIGNED"]),
        ("CANCELLED", False, ["STARTED", "CANCELLED"]),
    ],
)
def test_an_attempt_is_retrying_only_after_a_failure_followed_by_another_attempt(
    outcome: str, retried: bool, kinds: list[str]
) -> None:
    events = _attempt_events(_attempt(0, outcome), retried=retried)
    assert [e.event_type for e in events] == [V1TaskEventType(k) for k in kinds]
    assert len({e.id for e in events}) == len(events)


def test_only_the_event_of_how_an_attempt_ended_carries_its_error() -> None:
    events = _attempt_events(_attempt(0, "FAILED"), retried=True)
    assert [e.error_message for e in events] == [None, "boom", None]


def test_an_attempt_still_running_has_only_started() -> None:
    events = _attempt_events(_attempt(1, "RUNNING", finished=False), retried=False)
    assert [(e.event_type, e.attempt, e.retry_count) for e in events] == [(V1TaskEventType.STARTED, 2, 1)]


def _step(name: str, status: str) -> StepView:
    return StepView(uuid.uuid4(), uuid.uuid4(), name, "a", "TASK", status, [], "q", 0, 0, 0, 0, "", "", None,
                    None, None, T0, None, None, None, None)  # fmt: skip


def test_a_task_waiting_for_its_parents_is_not_created_yet() -> None:
    steps = [_step("a", "COMPLETED"), _step("b", "RUNNING"), _step("c", "PENDING"), _step("d", "QUEUED")]
    assert [s.name for s in created(steps)] == ["a", "b", "d"]


# --- the serialisation context ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("context", "inside"),
    [(HATCHET_PYDANTIC_SENTINEL, True), (TRIGGER_CONTEXT, True), (None, False), ({}, False), ({"x": 1}, False)],
)
def test_the_sdks_contexts_are_serialisation_contexts(context: Any, inside: bool) -> None:
    assert is_in_hatchet_serialization_context(context) is inside


def test_the_trigger_context_still_says_at_trigger() -> None:
    assert TRIGGER_CONTEXT["at_trigger"] is True


# --- plain data types with Hatchet's constructors -------------------------------------------------------------------


def test_conditions_keep_hatchets_readable_keys_and_or_groups() -> None:
    sleep, event = SleepCondition(timedelta(seconds=10)), UserEventCondition(event_key="user:update")
    group = or_(sleep, event)
    assert isinstance(group, OrGroup)
    assert (sleep.base.readable_data_key, event.base.readable_data_key) == ("sleep:10s", "user:update")
    assert {c.base.or_group_id for c in flatten_conditions([group])} == {group.or_group_id}


def test_hatchets_exceptions_carry_their_fields() -> None:
    assert IdempotencyCollisionError("run-1").existing_run_external_id == "run-1"
    assert str(NonDeterminismError("t", 2, "", 5)) == "Non-determinism detected in task t on invocation 2 at node 5"


def test_a_rest_api_class_says_there_is_no_rest_client() -> None:
    with pytest.raises(NotImplementedError, match=r"TaskApi.v1_task_restore: the SDK has no REST client"):
        TaskApi(None).v1_task_restore(task="x")


# --- the aio twins ----------------------------------------------------------------------------------------------------

TWINS = {
    "runs": ("get", "get_details", "get_status", "get_task_run", "list", "create", "cancel", "replay",
             "bulk_cancel", "bulk_replay", "get_result", "list_with_pagination"),
    "event": ("push", "bulk_push", "list", "get"),
    "cron": ("create", "delete", "list", "get"),
    "scheduled": ("create", "delete", "update", "bulk_delete", "bulk_update", "list", "get"),
    "workflows": ("get", "list", "delete"),
    "workers": ("get", "list", "pause", "unpause"),
    "rate_limits": ("put",),
    "logs": ("list",),
}  # fmt: skip


@pytest.mark.parametrize(("client", "method"), [(c, m) for c, methods in TWINS.items() for m in methods])
def test_every_method_of_a_feature_client_has_its_aio_twin(client: str, method: str) -> None:
    from sfpserver.hatchet import Hatchet

    feature = getattr(Hatchet(), client)
    assert callable(getattr(feature, method))
    assert asyncio.iscoroutinefunction(getattr(feature, f"aio_{method}"))


def test_get_current_context_is_the_deprecated_twin_of_current_context() -> None:
    from sfpserver.hatchet import Hatchet

    with pytest.warns(DeprecationWarning, match="use the current_context property"):
        assert Hatchet().get_current_context() is None
