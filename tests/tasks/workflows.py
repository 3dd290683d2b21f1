"""Test-only sfp workflows, served by the platform pools in the test run (tests/services.py)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sfpserver.hatchet import Context
from sfpserver.hatchet.serve import serve
from tasks.client import hatchet
from tasks.inputs import ApexTestsInput
from tasks.pools import STANDARD, pool
from tasks.steps import sfp_step
from tasks.workflows.long_running import run_apex_tests

# The Apex test run of sfp-apex-tests, on the standard pool with a 4-second execution timeout.
short_tests = hatchet.workflow(name="t-sfp-short-tests", input_validator=ApexTestsInput)


@short_tests.task(
    desired_worker_labels=pool(STANDARD), execution_timeout=timedelta(seconds=4), credentials_from_input=["target_org"]
)
def tests_with_a_deadline(input: ApexTestsInput, ctx: Context) -> dict[str, Any]:
    with sfp_step(ctx, input) as step:
        step.ws.repo.mkdir()
        return run_apex_tests(step, input.target_org, input.test_level)


serve(short_tests)
