"""Test-only sfp workflows, served by the platform pools in the test run (tests/services.py)."""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

from pydantic import BaseModel

from sfpserver.hatchet import Context
from sfpserver.hatchet.serve import serve
from sfpserver.hatchet.types import DesiredWorkerLabel
from tasks.client import hatchet
from tasks.inputs import ApexTestsInput
from tasks.pools import STANDARD, pool
from tasks.sfp import sandbox
from tasks.sfp.runner import run_sfp
from tasks.sfp.workspace import work_dir, workspace
from tasks.steps import ContextIO, sfp_step
from tasks.workflows.long_running import run_apex_tests

# The Apex test run of sfp-apex-tests, on the standard pool with a 4-second execution timeout.
short_tests = hatchet.workflow(name="t-sfp-short-tests", input_validator=ApexTestsInput)


@short_tests.task(
    desired_worker_labels=pool(STANDARD), execution_timeout=timedelta(seconds=4), credentials_from_input=["target_org"]
)
def tests_with_a_deadline(input: ApexTestsInput, ctx: Context) -> dict[str, Any]:
    with sfp_step(ctx, input) as step:
        step.ws.repo.mkdir(exist_ok=True)
        return run_apex_tests(step, input.target_org, input.test_level)


# A step whose "sfp CLI" (SFP_BIN of the node serving PROBE_QUEUE: tests/tasks/test_isolation.py) tries to read
# the worker, the vault key file and a sibling step's workspace, through the runner like any sfp command.
PROBE_QUEUE = "t-cli-probe"


class ProbeInput(BaseModel):
    canary: str
    vault_key_file: str


cli_probe = hatchet.workflow(name="t-sfp-cli-probe", input_validator=ProbeInput)


@cli_probe.task(
    desired_worker_labels=[DesiredWorkerLabel(key="pool", value=PROBE_QUEUE, required=True)],
    execution_timeout=timedelta(seconds=60),
)
def probe(input: ProbeInput, ctx: Context) -> dict[str, Any]:
    with workspace("probe-sibling") as sibling, workspace("probe") as ws:
        (sibling.home / "canary").write_text(input.canary)
        sibling.private_file("canary", input.canary)
        sandbox.give(sibling.home, sibling.owner)
        targets = {
            "PROBE_WORKER_PID": str(os.getpid()),
            "PROBE_SUPERVISOR_PID": str(os.getppid()),
            "PROBE_VAULT_KEY_FILE": input.vault_key_file,
            "PROBE_SIBLING": str(sibling.root),
            "PROBE_WORK_DIR": str(work_dir()),
        }
        ws.repo.mkdir(exist_ok=True)
        result = run_sfp(ContextIO(ctx), ["probe"], workspace=ws, org_bound=False, env=targets, check=False)
        return {"lines": result.lines, "exit_code": result.exit_code, "as_own_user": ws.owner is not None}


serve(short_tests, cli_probe)
