"""Event filters and scopes: which workflows an event starts, and with what filter payload (Hatchet's rule).

For each workflow listening on the event's key:
- a workflow with no filter at all is started once, as before filters existed;
- otherwise only the filters of that workflow in the event's scope count (none when the event has no scope):
  each whose expression holds starts one run, which sees the filter's payload as `ctx.filter_payload`
  (carried in the run's metadata as `hatchet__filter_payload`, with `hatchet__filter_id`). An expression that
  fails to evaluate (a missing key, a type error) counts as false and is logged.

Expressions see `input` (the event payload), `additional_metadata`, `payload` (the filter's), `event_id` and
`event_key`. A workflow's `default_filters` are stored as declarative filters when its worker registers it,
replacing the declarative filters it had.
"""

from __future__ import annotations

import fnmatch
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from django.db import transaction

from sfpserver.engine import services
from sfpserver.engine.services import InvalidWorkflowError, TriggerRequest
from sfpserver.hatchet.event_errors import FilterNotFound, InvalidRoutingInput
from sfpserver.hatchet.models import EventFilter

logger = logging.getLogger(__name__)

VARIABLES = ("input", "additional_metadata", "payload", "event_id", "event_key")
MAX_SCOPE = 200
FILTER_ID_KEY = "hatchet__filter_id"
FILTER_PAYLOAD_KEY = "hatchet__filter_payload"


def key_matches(pattern: str, key: str) -> bool:
    return pattern == key or ("*" in pattern and fnmatch.fnmatchcase(key, pattern))


# --- writing filters -----------------------------------------------------------------------------------------


def checked_expression(expression: Any) -> str:
    if not isinstance(expression, str) or not expression.strip():
        raise InvalidRoutingInput("expression", "must be a non-empty CEL expression")
    try:
        services.check_expression(expression, VARIABLES, field="expression")
    except InvalidWorkflowError as exc:
        raise InvalidRoutingInput("expression", exc.problem) from None
    return expression


def checked_scope(scope: Any) -> str:
    if not isinstance(scope, str) or not scope.strip():
        raise InvalidRoutingInput("scope", "must be a non-empty string")
    if len(scope) > MAX_SCOPE:
        raise InvalidRoutingInput("scope", f"must be at most {MAX_SCOPE} characters")
    return scope


def checked_payload(payload: Any) -> dict[str, Any]:
    if payload is None:
        return {}
    if not isinstance(payload, dict):
        raise InvalidRoutingInput("payload", "must be a JSON object")
    services.refuse_unstorable(payload)
    return payload


def _workflow(workflow_id: Any) -> str:
    if not isinstance(workflow_id, str) or services.get_definition(workflow_id) is None:
        raise InvalidRoutingInput("workflowId", f"no workflow named {workflow_id!r} is registered")
    return workflow_id


def create_filter(workflow_id: str, expression: str, scope: str, payload: dict[str, Any] | None) -> EventFilter:
    return EventFilter.objects.create(
        workflow_name=_workflow(workflow_id),
        expression=checked_expression(expression),
        scope=checked_scope(scope),
        payload=checked_payload(payload),
    )


def get_filter(filter_id: str | UUID) -> EventFilter:
    try:
        found = EventFilter.objects.filter(id=UUID(str(filter_id))).first()
    except ValueError:
        found = None
    if found is None:
        raise FilterNotFound(str(filter_id))
    return found


def list_filters(
    limit: int | None = None,
    offset: int | None = None,
    workflow_ids: Iterable[str] | None = None,
    scopes: Iterable[str] | None = None,
) -> list[EventFilter]:
    rows = EventFilter.objects.order_by("-created_at", "id")
    if workflow_ids:
        rows = rows.filter(workflow_name__in=list(workflow_ids))
    if scopes:
        rows = rows.filter(scope__in=list(scopes))
    start = offset or 0
    return list(rows[start : start + (limit or 1000)])


def update_filter(
    filter_id: str | UUID, expression: str | None = None, scope: str | None = None, payload: Any = None
) -> EventFilter:
    row = get_filter(filter_id)
    if expression is not None:
        row.expression = checked_expression(expression)
    if scope is not None:
        row.scope = checked_scope(scope)
    if payload is not None:
        row.payload = checked_payload(payload)
    row.save()
    return row


def delete_filter(filter_id: str | UUID) -> EventFilter:
    row = get_filter(filter_id)
    deleted_id = row.id
    row.delete()
    row.id = deleted_id
    return row


def sync_declared_filters(definitions: Iterable[Any]) -> None:
    """Store each definition's `default_filters` (its spec's triggers) as its declarative filters."""
    for definition in definitions:
        sync_declarative(definition.name, list((definition.triggers or {}).get("default_filters") or []))


@transaction.atomic
def sync_declarative(workflow_name: str, defaults: list[dict[str, Any]]) -> None:
    """The workflow's declarative filters become exactly `defaults` (its `default_filters`)."""
    EventFilter.objects.filter(workflow_name=workflow_name, is_declarative=True).delete()
    EventFilter.objects.bulk_create(
        EventFilter(
            workflow_name=workflow_name,
            expression=checked_expression(d["expression"]),
            scope=checked_scope(d["scope"]),
            payload=checked_payload(d.get("payload")),
            is_declarative=True,
        )
        for d in defaults
    )


# --- deciding what an event starts ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Event:
    id: str
    key: str
    payload: dict[str, Any]
    metadata: dict[str, Any]
    scope: str | None


def triggers_for(event: Event, run_metadata: dict[str, Any], priority: int | None) -> list[TriggerRequest]:
    """The runs `event` starts: one per listening workflow without filters, one per passing filter otherwise."""
    workflows = [
        d.name
        for d in services.list_definitions()
        if any(key_matches(p, event.key) for p in (d.spec.get("triggers") or {}).get("on_events", []))
    ]
    if not workflows:
        return []
    filtered = set(EventFilter.objects.filter(workflow_name__in=workflows).values_list("workflow_name", flat=True))
    in_scope = _filters_in_scope(workflows, event.scope) if filtered else {}
    requests = []
    for name in workflows:
        if name not in filtered:
            requests.append(TriggerRequest(name, event.payload or None, metadata=run_metadata, priority=priority))
            continue
        for row in in_scope.get(name, []):
            if _passes(row, event):
                metadata = {**run_metadata, FILTER_ID_KEY: str(row.id), FILTER_PAYLOAD_KEY: row.payload}
                requests.append(TriggerRequest(name, event.payload or None, metadata=metadata, priority=priority))
    return requests


def _filters_in_scope(workflows: list[str], scope: str | None) -> dict[str, list[EventFilter]]:
    found: dict[str, list[EventFilter]] = {}
    if scope is None:
        return found
    for row in EventFilter.objects.filter(workflow_name__in=workflows, scope=scope).order_by("created_at", "id"):
        found.setdefault(row.workflow_name, []).append(row)
    return found


def _passes(row: EventFilter, event: Event) -> bool:
    variables = {
        "input": event.payload,
        "additional_metadata": event.metadata,
        "payload": row.payload,
        "event_id": event.id,
        "event_key": event.key,
    }
    try:
        return services.evaluate_expression(row.expression, variables, field="expression") is True
    except (InvalidWorkflowError, TypeError, ZeroDivisionError) as exc:
        logger.warning(
            "event filter %s did not evaluate: %s", row.id, exc, extra={"filter_id": str(row.id), "event_id": event.id}
        )
        return False
