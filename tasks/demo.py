"""A small demo pipeline on the bare engine: what `make run` triggers to show the platform working.

checkout -> build -> (unit tests, static analysis) -> publish. The build fails on its first attempt and is
retried alone after a 1 s backoff; the others run once. Its input is validated like every operation's
(`DemoInput`), wherever it is triggered from.
"""

from __future__ import annotations

import time
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from sfpserver.engine.services import StepDef, WorkflowDef, register_workflow

WORKFLOW = "demo.pipeline"


class DemoInput(BaseModel):
    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)
    repository: Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]*$")] = "demo"


def _validated(value: Any) -> dict[str, Any]:
    return DemoInput.model_validate(value if value is not None else {}).model_dump()


def _work(name: str, seconds: float = 0.5) -> Any:
    def handler(inv: Any) -> dict[str, Any]:
        for pct in (25, 50, 75, 100):
            time.sleep(seconds / 4)
            inv.progress(pct, f"{name}: {pct}%")
        return {"step": name, "attempt": inv.attempt}

    return handler


def _flaky_build(inv: Any) -> dict[str, Any]:
    inv.log("building packages")
    if inv.attempt == 0:
        raise RuntimeError("transient failure while fetching dependencies")
    return _work("build")(inv)


register_workflow(
    WorkflowDef(
        name=WORKFLOW,
        input_validator=_validated,
        steps=(
            StepDef("checkout", f"{WORKFLOW}:checkout"),
            StepDef("build", f"{WORKFLOW}:build", parents=("checkout",), retries=2, backoff_factor=1.0),
            StepDef("unit_tests", f"{WORKFLOW}:unit_tests", parents=("build",)),
            StepDef("static_analysis", f"{WORKFLOW}:static_analysis", parents=("build",)),
            StepDef("publish", f"{WORKFLOW}:publish", parents=("unit_tests", "static_analysis")),
        ),
    ),
    handlers={
        f"{WORKFLOW}:checkout": _work("checkout"),
        f"{WORKFLOW}:build": _flaky_build,
        f"{WORKFLOW}:unit_tests": _work("unit_tests", 1.0),
        f"{WORKFLOW}:static_analysis": _work("static_analysis"),
        f"{WORKFLOW}:publish": _work("publish"),
    },
)
