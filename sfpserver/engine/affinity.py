"""Worker labels, affinity and sticky assignment: which live worker a step's message goes to.

A step with affinity (desired worker labels, or a sticky run) is recorded with the queue `affinity:<queue>`,
which no worker consumes, and its affinity in `args["affinity"]` (`spec()`). When its message is published
(dispatch.publish: after the commit that queued it, by gates, and by the sweeper), `route()` picks one live
worker that consumes `<queue>`, from the Worker rows in Postgres, and sends the message to that worker's own
queue `worker.<id>` (which a worker consumes when configured `routable`). Required labels are never broken:
a worker that does not satisfy one is never chosen. Among the rest, a SOFT-sticky run's worker comes first,
then the highest label weight; ties are broken at random. A HARD-sticky run's steps go only to its worker.

A step no live worker may take now is left waiting for the broker (waits.py `broker`): the scheduler's sweep
publishes it again each tick, so it starts once a matching worker appears (or labels change), or its schedule
timeout cancels it. A routed message that its worker never takes (the worker died or stopped) is published
again, and routed again among the live workers, by the sweeper after ENGINE_REDISPATCH_AFTER.

Cost: one query per published batch that holds routed steps (none for other steps), no broker round trip.
Routed steps are never handed off to a completing step's thread (their queue is no worker's): each goes
through the broker. The scoring (`score`, `choose`) is pure and table-tested (tests/engine/test_affinity.py).
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Any
from uuid import UUID

from django.conf import settings
from django.db import DatabaseError

from sfpserver.engine import sql, statements
from sfpserver.engine.exceptions import InvalidWorkflowError

if TYPE_CHECKING:
    from sfpserver.engine.messages import Dispatch

logger = logging.getLogger(__name__)

ROUTED_PREFIX = "affinity:"
WORKER_QUEUE_PREFIX = "worker."
DEFAULT_WEIGHT = 100  # Hatchet's engine default
COMPARATORS = ("EQUAL", "NOT_EQUAL", "GREATER_THAN", "GREATER_THAN_OR_EQUAL", "LESS_THAN", "LESS_THAN_OR_EQUAL")
STICKY = ("SOFT", "HARD")


def worker_queue(worker_id: UUID | str) -> str:
    """The queue only this worker consumes (when it is routable)."""
    return f"{WORKER_QUEUE_PREFIX}{worker_id}"


def routed_queue(queue: str) -> str:
    return queue if queue.startswith(ROUTED_PREFIX) else ROUTED_PREFIX + queue


def base_queue(queue: str) -> str:
    return queue.removeprefix(ROUTED_PREFIX)


def is_routed(queue: str) -> bool:
    return queue.startswith(ROUTED_PREFIX)


# --- the decision (pure) -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Desired:
    """One desired worker label: `<worker's value> <comparator> <value>` (Hatchet's reading)."""

    key: str
    value: str | int
    required: bool = False
    weight: int = DEFAULT_WEIGHT
    comparator: str = "EQUAL"


@dataclass(frozen=True)
class Affinity:
    labels: tuple[Desired, ...] = ()
    sticky: str | None = None  # SOFT or HARD
    worker: str | None = None  # the run's sticky worker when known before its first step runs (a child's parent's)


@dataclass(frozen=True)
class Candidate:
    id: str
    labels: Mapping[str, Any]


def meets(worker_value: Any, desired: Desired) -> bool:
    """Strings compare only for (in)equality with strings; the order comparators need whole numbers on both sides."""
    both_int = isinstance(worker_value, int) and isinstance(desired.value, int)
    both_str = isinstance(worker_value, str) and isinstance(desired.value, str)
    if desired.comparator in ("EQUAL", "NOT_EQUAL"):
        if not (both_int or both_str):
            return False
        return (worker_value == desired.value) == (desired.comparator == "EQUAL")
    if not both_int:
        return False
    return {
        "GREATER_THAN": worker_value > desired.value,
        "GREATER_THAN_OR_EQUAL": worker_value >= desired.value,
        "LESS_THAN": worker_value < desired.value,
        "LESS_THAN_OR_EQUAL": worker_value <= desired.value,
    }[desired.comparator]


def score(worker_labels: Mapping[str, Any], desired: Iterable[Desired]) -> int | None:
    """The sum of the weights of the desired labels the worker meets; None when it misses a required one."""
    total = 0
    for label in desired:
        met = label.key in worker_labels and meets(worker_labels[label.key], label)
        if met:
            total += label.weight
        elif label.required:
            return None
    return total


def rank(candidate: Candidate, affinity: Affinity, sticky_worker: str | None) -> tuple[int, int] | None:
    """(sticky preference, label score), higher is better; None when the worker may not take the step."""
    labels = score(candidate.labels, affinity.labels)
    if labels is None:
        return None
    is_sticky = sticky_worker is not None and candidate.id == sticky_worker
    if affinity.sticky == "HARD" and sticky_worker is not None and not is_sticky:
        return None
    return (1 if affinity.sticky == "SOFT" and is_sticky else 0), labels


def choose(
    candidates: Sequence[Candidate],
    affinity: Affinity,
    sticky_worker: str | None,
    pick: Any = random.choice,
) -> Candidate | None:
    """The best-ranked worker (one of the best at random), or None when none may take the step."""
    ranked = [(r, c) for c in candidates if (r := rank(c, affinity, sticky_worker)) is not None]
    if not ranked:
        return None
    best = max(r for r, _ in ranked)
    chosen: Candidate = pick([c for r, c in ranked if r == best])
    return chosen


# --- the specification (at trigger) --------------------------------------------------------------------------


def desired_label(raw: Mapping[str, Any], field: str) -> Desired:
    """A desired label from its JSON form (Hatchet's DesiredWorkerLabel dump); InvalidWorkflowError naming `field`."""
    key, value = raw.get("key"), raw.get("value")
    if not isinstance(key, str) or not key:
        raise InvalidWorkflowError(f"{field}.key", "a non-empty label name is required")
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise InvalidWorkflowError(f"{field}.value", f"must be a string or a whole number, got {value!r}")
    comparator = raw.get("comparator")
    comparator = "EQUAL" if comparator is None else comparator
    if isinstance(comparator, int) and not isinstance(comparator, bool) and 0 <= comparator < len(COMPARATORS):
        comparator = COMPARATORS[comparator]
    if comparator not in COMPARATORS:
        raise InvalidWorkflowError(f"{field}.comparator", f"must be one of {', '.join(COMPARATORS)}")
    weight = raw.get("weight")
    weight = DEFAULT_WEIGHT if weight is None else weight
    if isinstance(weight, bool) or not isinstance(weight, int):
        raise InvalidWorkflowError(f"{field}.weight", f"must be a whole number, got {weight!r}")
    return Desired(key, value, bool(raw.get("required", False)), weight, comparator)


def spec(
    step_labels: Sequence[Mapping[str, Any]],
    run_labels: Sequence[Mapping[str, Any]] = (),
    sticky: str | None = None,
    worker: str | None = None,
) -> dict[str, Any]:
    """A step's `args["affinity"]` ({} when it has none): its own labels with the run's (a run label replaces a step
    label of the same key), the run's sticky strategy and its known sticky worker. Checked here, at trigger."""
    if sticky is not None and sticky not in STICKY:
        raise InvalidWorkflowError("sticky", f"must be one of {', '.join(STICKY)}, got {sticky!r}")
    run = [desired_label(raw, "desired_worker_labels") for raw in run_labels]
    own = [desired_label(raw, "steps.desired_worker_labels") for raw in step_labels]
    keys = {label.key for label in run}
    labels = [label for label in own if label.key not in keys] + run
    if not labels and sticky is None:
        return {}
    return {"labels": [asdict(label) for label in labels], "sticky": sticky, "worker": worker}


def _json(value: Any) -> Any:
    """A jsonb column as the engine's connection returns it (text: Django leaves decoding to the field)."""
    return json.loads(value) if isinstance(value, str) else value


def affinity_of(raw: Mapping[str, Any] | str | None) -> Affinity:
    raw = _json(raw) or {}
    labels = tuple(Desired(**label) for label in raw.get("labels") or ())
    return Affinity(labels, raw.get("sticky"), raw.get("worker"))


# --- routing (at publish) ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Routing:
    ready: list[Dispatch]  # to publish (routed ones now on their worker's queue)
    unplaced: list[UUID]  # routed steps no live worker may take now


def route(batch: list[Dispatch]) -> Routing:
    """Send each routed item of `batch` to the queue of the worker chosen for it; the others pass unchanged."""
    routed = [item for item in batch if is_routed(item.queue)]
    if not routed:
        return Routing(batch, [])
    try:
        facts = {row["id"]: row for row in sql.rows(statements.ROUTING_FACTS, {"steps": [i.step_id for i in routed]})}
        workers = _live_workers({base_queue(item.queue) for item in routed})
    except DatabaseError:
        logger.warning("could not route %d step(s): left for the sweeper", len(routed))
        return Routing([item for item in batch if not is_routed(item.queue)], [item.step_id for item in routed])
    ready, unplaced = [item for item in batch if not is_routed(item.queue)], []
    chosen_for_run: dict[Any, str] = {}  # a sticky run's steps published together go to one worker
    for item in routed:
        row = facts.get(item.step_id)
        worker = _place(item, row, workers.get(base_queue(item.queue), []), chosen_for_run) if row else None
        if worker is None:
            unplaced.append(item.step_id)
        else:
            ready.append(replace(item, queue=worker_queue(worker)))
    if unplaced:
        logger.debug("%d routed step(s) wait for a worker that may take them", len(unplaced))
    return Routing(ready, unplaced)


def _place(item: Dispatch, row: Mapping[str, Any], workers: list[Candidate], chosen: dict[Any, str]) -> str | None:
    affinity = affinity_of(row["affinity"])
    sticky_worker = affinity.worker or _str(row["first_worker"]) or chosen.get(row["run_id"])
    candidate = choose(workers, affinity, sticky_worker)
    if candidate is None:
        return None
    if affinity.sticky is not None:
        chosen.setdefault(row["run_id"], candidate.id)
    return candidate.id


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


def _live_workers(queues: set[str]) -> dict[str, list[Candidate]]:
    """Per queue, the active workers with a fresh heartbeat that consume it and their own queue."""
    rows = sql.rows(statements.ROUTABLE_WORKERS, {"queues": sorted(queues), "after": settings.ENGINE_WORKER_DEAD_AFTER})
    found: dict[str, list[Candidate]] = {queue: [] for queue in queues}
    for row in rows:
        own = worker_queue(row["id"])
        if own not in row["queues"]:
            continue
        for queue in queues.intersection(row["queues"]):
            found[queue].append(Candidate(str(row["id"]), _json(row["labels"]) or {}))
    return found
