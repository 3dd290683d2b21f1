"""Nothing is accepted silently: every Hatchet option the SDK takes and does not act on is listed here, and
using it warns once per process and place, when the workflow or task is registered or the call is made.

`REGISTRY` is the one list of such options; the README's "Where it differs from Hatchet" section lists
exactly the same (`tests/hatchet/test_unsupported.py` compares them both ways). `unsupported()` refuses an
option that is not in the registry, so the list cannot fall behind the code. A leaf module: it imports
nothing of the SDK, so every module can call it.
"""

from __future__ import annotations

import logging
import threading
import warnings

logger = logging.getLogger(__name__)


class UnsupportedOptionWarning(UserWarning):
    """A Hatchet option was given that this SDK accepts for compatibility but does not act on."""


# (option, where) -> what happens instead. `where` names the call that takes the option.
REGISTRY: dict[tuple[str, str], str] = {
    ("default_filters", "serve"): "stored only when an SDK worker registers the workflow; use hatchet.filters",
    ("task_defaults.priority", "workflow"): "tasks take the run's priority (default_priority or the trigger's)",
    ("slot_cost", "task"): "every task takes one slot",
    ("desired_worker_labels", "batch_task"): "a batch goes to any worker of its queue (the `pool` label counts)",
    ("eviction_policy.priority", "durable_task"): (
        "not used: a waiting durable task is evicted when its ttl is up, not by rank"
    ),
    ("release_slot", "Context"): "does nothing: the slot frees when the task ends",
    ("RetryAfterException", "task"): "handled as any other exception: the task's own backoff decides the delay",
    ("DedupeViolationError", "sfpserver.hatchet"): "never raised: a duplicate child_key returns the existing run",
    ("desired_worker_id", "run"): "acted on only with sticky=True (as in Hatchet); else any worker takes the run",
    ("child_key", "schedule"): "dropped: a scheduled run is not a child run",
    ("durable_slots", "hatchet.worker"): "durable tasks run in the ordinary slots; evicted at a wait, they hold none",
    ("config", "Hatchet"): (
        "only namespace, server_url, logger, disable_log_capture and debug are used; token, host and TLS are ignored"
    ),
    ("pause", "hatchet.workers"): "marks the worker PAUSED in listings; it keeps taking work",
    ("filters", "hatchet.cron.list"): "only workflow_name filters; other filters and paging are ignored",
    ("filters", "hatchet.scheduled.list"): "only workflow_name filters; other filters and paging are ignored",
    ("filters", "hatchet.scheduled.bulk_delete"): "only scheduled_ids are deleted; filters are ignored",
    ("enable_hatchet_otel_collector", "HatchetInstrumentor"): (
        "no Hatchet engine collects spans: they go to the tracer provider's own span processors only"
    ),
    ("meter_provider", "HatchetInstrumentor"): "no metrics are recorded through it (see /metrics)",
    ("config", "HatchetInstrumentor"): "the client is configured from the Django settings; ClientConfig is ignored",
    ("batch options", "HatchetInstrumentor"): "no span processor of ours to tune: configure your provider's",
}

_warned: set[tuple[str, str]] = set()
_lock = threading.Lock()


def unsupported(option: str, where: str, detail: str | None = None) -> None:
    """Warn, once per (option, where) in this process, that `option` given to `where` is not acted on."""
    key = (option, where)
    if key not in REGISTRY:
        raise KeyError(f"{option!r} at {where!r} is not in sfpserver.hatchet.unsupported.REGISTRY")
    with _lock:
        if key in _warned:
            return
        _warned.add(key)
    message = f"{where}: `{option}` is accepted but not acted on: {detail or REGISTRY[key]} (see the README)"
    logger.warning(message, extra={"option": option, "where": where})
    warnings.warn(message, UnsupportedOptionWarning, stacklevel=3)


def forget_warnings() -> None:
    """Let every option warn again (for tests)."""
    with _lock:
        _warned.clear()
