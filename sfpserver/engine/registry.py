"""Where a process finds the workflows it can trigger and the code of the steps it can run."""

from __future__ import annotations

import importlib
import logging
import threading
from collections.abc import Callable
from typing import Any

from django.conf import settings

from sfpserver.engine.definitions import WorkflowDef
from sfpserver.engine.exceptions import UnknownWorkflowError

logger = logging.getLogger(__name__)

StepHandler = Callable[[Any], Any]  # receives a runtime.Invocation, returns a JSON-able output

_workflows: dict[str, WorkflowDef] = {}
_actions: dict[str, StepHandler] = {}
_action_resolvers: dict[str, Callable[[str], StepHandler | None]] = {}
_modules_loaded = False
_loading = threading.Lock()


def register_workflow(definition: WorkflowDef, handlers: dict[str, StepHandler] | None = None) -> WorkflowDef:
    definition.validate()
    _workflows[definition.name] = definition
    for action, handler in (handlers or {}).items():
        _actions[action] = handler
    return definition


def register_action_resolver(prefix: str, resolver: Callable[[str], StepHandler | None]) -> None:
    """Actions named `prefix:...` are resolved by `resolver` (used for plain Celery tasks in canvases)."""
    _action_resolvers[prefix] = resolver


def load_workflow_modules() -> None:
    """Import the modules of ENGINE_WORKFLOW_MODULES once; they register their workflows when imported. A thread
    that calls it while another imports them waits for the imports (else it would find no workflow meanwhile)."""
    global _modules_loaded
    if _modules_loaded:
        return
    with _loading:
        if not _modules_loaded:
            for module in settings.ENGINE_WORKFLOW_MODULES:
                importlib.import_module(module)
            _modules_loaded = True


def local_workflow(name: str) -> WorkflowDef | None:
    return _workflows.get(name)


def local_workflows() -> list[WorkflowDef]:
    return list(_workflows.values())


def get_workflow(name: str) -> WorkflowDef:
    """The definition from this process, else the one a worker registered in the database."""
    from sfpserver.engine.models import WorkflowDefinition

    load_workflow_modules()
    found = _workflows.get(name)
    if found is not None:
        return found
    row = WorkflowDefinition.objects.filter(name=name).first()
    if row is None:
        raise UnknownWorkflowError(name)
    return WorkflowDef.from_spec(row.spec)


def resolve_action(action: str) -> StepHandler | None:
    handler = _actions.get(action)
    if handler is not None:
        return handler
    prefix = action.split(":", 1)[0]
    resolver = _action_resolvers.get(prefix)
    return resolver(action) if resolver else None


def publish_definitions(definitions: list[WorkflowDef] | None = None) -> None:
    """Record the local workflow shapes so that any process can trigger them by name."""
    from sfpserver.engine.models import WorkflowDefinition

    for definition in definitions if definitions is not None else local_workflows():
        WorkflowDefinition.objects.update_or_create(name=definition.name, defaults={"spec": definition.to_spec()})
