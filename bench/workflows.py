"""The bench's workflows: a one-step no-op and a ten-step no-op chain, on a queue only the bench serves.

Listed in ENGINE_WORKFLOW_MODULES for the bench process and its worker nodes (see bench/run.py).
"""

from __future__ import annotations

import time
from typing import Any

from sfpserver.engine.definitions import StepDef, WorkflowDef
from sfpserver.engine.registry import register_workflow

QUEUE = "bench"
SINGLE = "bench.noop"
CHAIN = "bench.chain10"
CHAIN_LENGTH = 10
NOOP_ACTION = "bench:noop"
STAMP_ACTION = "bench:stamp"


def noop(_inv: Any) -> None:
    """The same no-op work as the plain Celery task: nothing."""
    return None


def stamp(_inv: Any) -> dict[str, float]:
    """A chain step: when its code started (the plain Celery hop records the same)."""
    return {"started": time.time()}


def _step(name: str, *parents: str, action: str = NOOP_ACTION) -> StepDef:
    return StepDef(name=name, action=action, parents=parents, queue=QUEUE)


def chain_step_names() -> list[str]:
    return [f"s{i}" for i in range(CHAIN_LENGTH)]


register_workflow(WorkflowDef(name=SINGLE, steps=(_step("noop"),)), {NOOP_ACTION: noop})
register_workflow(
    WorkflowDef(
        name=CHAIN,
        steps=tuple(
            _step(name, *([f"s{i - 1}"] if i else []), action=STAMP_ACTION) for i, name in enumerate(chain_step_names())
        ),
    ),
    {STAMP_ACTION: stamp},
)


# The same no-op through the Hatchet-compatible SDK, for the facade's overhead (served by the same node).
def _sdk_noop() -> Any:
    from sfpserver.hatchet import Context, DesiredWorkerLabel, EmptyModel, Hatchet
    from sfpserver.hatchet.serve import serve

    hatchet = Hatchet()

    @hatchet.task(name=SDK_SINGLE, desired_worker_labels=[DesiredWorkerLabel(key="pool", value=QUEUE, required=True)])
    def sdk_noop(input: EmptyModel, ctx: Context) -> None:
        return None

    serve(sdk_noop)
    return sdk_noop


SDK_SINGLE = "bench.sdk_noop"
sdk_noop = _sdk_noop()
