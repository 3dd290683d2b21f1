"""Running a user's plain Celery canvas durably: `run_canvas(chain(a.s(), group(b.s(), c.s()), d.s()))`.

The canvas is compiled into an engine DAG: a chain becomes sequential edges, a group a fan-out, a chord (or a
group followed by a task) a join whose counter is a row in Postgres. Each node keeps Celery's argument
passing: the parent's result is prepended to a mutable signature's args, a join passes the list of its
header's results in order. Per-node retries come from the signature's options:
`add.s(2, 2).set(retries=3, retry_backoff=2, time_limit=30, queue="long-running")`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from uuid import UUID

from celery.canvas import Signature, _chain, chord, group

from sfpserver.engine.definitions import STANDARD_QUEUE, StepDef, WorkflowDef
from sfpserver.engine.exceptions import InvalidWorkflowError
from sfpserver.engine.registry import StepHandler, register_action_resolver
from sfpserver.engine.trigger import trigger

ACTION_PREFIX = "celery"


class _Compiler:
    def __init__(self) -> None:
        self.steps: list[StepDef] = []

    def compile(self, sig: Any, parents: tuple[str, ...], join: bool) -> tuple[str, ...]:
        """Add `sig` after `parents`; return its leaves. `join`: the parents' results arrive as one list."""
        node: Any = sig
        if isinstance(sig, _chain):
            leaves, joined = parents, join
            for item in node.tasks:
                leaves = self.compile(item, leaves, joined)
                joined = isinstance(item, group) or len(leaves) > 1
            return leaves
        if isinstance(sig, chord):
            header = self.compile(group(node.tasks), parents, join)
            return self.compile(node.body, header, True)
        if isinstance(sig, group):
            branches: list[str] = []
            for item in node.tasks:
                branches.extend(self.compile(item, parents, join))
            return tuple(branches)
        if isinstance(sig, Signature):
            return (self._task(sig, parents, join),)
        raise InvalidWorkflowError("canvas", f"cannot run {type(sig).__name__} durably")

    def _task(self, sig: Signature, parents: tuple[str, ...], join: bool) -> str:
        options: Mapping[str, Any] = sig.options
        task_name = str(sig.task)
        name = f"{len(self.steps) + 1:02d}-{task_name.rsplit('.', 1)[-1]}"
        self.steps.append(
            StepDef(
                name=name,
                action=f"{ACTION_PREFIX}:{task_name}",
                parents=parents,
                retries=int(options.get("retries", 0)),
                backoff_factor=options.get("retry_backoff"),
                execution_timeout=options.get("time_limit"),
                queue=options.get("queue") or STANDARD_QUEUE,
                args={
                    "args": list(sig.args),
                    "kwargs": dict(sig.kwargs),
                    "immutable": bool(sig.immutable),
                    "join": join or len(parents) > 1,
                    "parents_order": list(parents),
                },
            )
        )
        return name


def compile_canvas(sig: Any, name: str | None = None) -> WorkflowDef:
    compiler = _Compiler()
    compiler.compile(sig, (), False)
    first = compiler.steps[0].action.split(":", 1)[1] if compiler.steps else "empty"
    return WorkflowDef(name=name or f"canvas:{first}", steps=tuple(compiler.steps)).validate()


def run_canvas(sig: Any, *, name: str | None = None, metadata: dict[str, Any] | None = None) -> UUID:
    """Record the canvas as a durable run and start it; returns the run id."""
    return trigger(compile_canvas(sig, name), None, metadata=metadata or {})


def _resolve(action: str) -> StepHandler | None:
    from config.celery import app

    task = app.tasks.get(action.split(":", 1)[1])
    if task is None:
        return None

    def handler(inv: Any) -> Any:
        spec = inv.claimed.args
        call_args = list(spec.get("args", []))
        parents = spec.get("parents_order", [])
        if parents and not spec.get("immutable"):
            results = [inv.parent_outputs.get(p) for p in parents]
            call_args.insert(0, results if spec.get("join") else results[0])
        return task.run(*call_args, **spec.get("kwargs", {}))

    return handler


register_action_resolver(ACTION_PREFIX, _resolve)
