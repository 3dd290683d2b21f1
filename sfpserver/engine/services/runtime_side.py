"""The runtime half of the front door, loaded on first use because it pulls in Celery and the worker's
machinery: the registry hooks the SDK registers workflows with, the invocation a step handler receives, the
after-commit signals the live feed and the vault listen to, and the entry points of engine processes."""

from __future__ import annotations

from config.undumpable import forbid_dumps
from sfpserver.engine import scheduler, signals
from sfpserver.engine import worker as engine_worker
from sfpserver.engine.lifecycle import lease_hash
from sfpserver.engine.registry import (
    get_workflow,
    load_workflow_modules,
    local_workflows,
    publish_definitions,
    register_action_resolver,
    register_workflow,
)
from sfpserver.engine.runtime import Invocation, wait_for_database
from sfpserver.engine.storable import first_unstorable

run_scheduler = scheduler.run_forever
configure_worker = engine_worker.configure
upsert_worker_labels = engine_worker.upsert_labels
current_worker_labels = engine_worker.current_labels

__all__ = [
    "Invocation",
    "configure_worker",
    "current_worker_labels",
    "first_unstorable",
    "forbid_dumps",
    "get_workflow",
    "lease_hash",
    "load_workflow_modules",
    "local_workflows",
    "publish_definitions",
    "register_action_resolver",
    "register_workflow",
    "run_scheduler",
    "signals",
    "upsert_worker_labels",
    "wait_for_database",
]
