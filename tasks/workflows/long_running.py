"""Operations on the long-running pool: the full Apex test suite, bulk metadata operations and the composed
release pipeline (validate -> deploy to staging -> run tests -> [approval] -> deploy to production, each its own
step with its own retries and timeout; a failed step is retried alone).

The approval gate is a durable task: with `approval_timeout_minutes` it waits, holding no worker slot, for a
decision (sfpserver/submissions/approvals.py: POST runs/{id}/approval, or the dashboard) or for its timeout, and
fails on a rejection or a timeout, so production is never deployed without an approval. Without it the gate
passes at once."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from sfpserver.hatchet import NonRetryableException, SleepCondition, UserEventCondition, or_
from sfpserver.hatchet.context import Context, DurableContext
from sfpserver.submissions.approvals import APPROVAL_EVENT
from tasks.client import hatchet
from tasks.inputs import ApexTestsInput, BuildInput, BulkMetadataInput, PipelineInput
from tasks.pools import LONG_RUNNING, pool
from tasks.steps import SfpStep, flags, sfp_step
from tasks.workflows.standard import QUEUED_FOR, REPO, install_to, validate_against

ON_LONG_RUNNING: dict[str, Any] = {"desired_worker_labels": pool(LONG_RUNNING), "schedule_timeout": QUEUED_FOR}


def run_apex_tests(
    step: SfpStep, org: str, level: str, *, package: str | None = None, coverage: int = 75, wait_minutes: int = 0
) -> dict[str, Any]:
    step.login(org)
    result = step.sfp(
        "apextests",
        "trigger",
        "-o",
        org,
        "-l",
        level,
        "-p",
        str(coverage),
        "-w",
        str(wait_minutes),
        *flags(("-n", package)),
    )
    return {**result.as_output(), "target_org": org, "test_results": _test_summaries(step)}


def _test_summaries(step: SfpStep) -> list[dict[str, Any]]:
    summaries = []
    for path in sorted((step.ws.repo / ".testresults").glob("test-result-*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(data, dict) and isinstance(data.get("summary"), dict):
            summaries.append(data["summary"])
    return summaries


def _prepare(step: SfpStep, input: ApexTestsInput | BulkMetadataInput) -> None:
    if input.repository is not None:
        step.checkout(input.repository)
    else:
        step.ws.repo.mkdir(exist_ok=True)


# --- full Apex test suite -----------------------------------------------------------------------------------

apex_tests_workflow = hatchet.workflow(name="sfp-apex-tests", input_validator=ApexTestsInput)


@apex_tests_workflow.task(
    execution_timeout=timedelta(hours=8),
    retries=1,
    backoff_factor=2,
    credentials_from_input=["target_org", *REPO],
    **ON_LONG_RUNNING,
)
def apex_tests(input: ApexTestsInput, ctx: Context) -> dict[str, Any]:
    with sfp_step(ctx, input) as step:
        _prepare(step, input)
        return run_apex_tests(
            step,
            input.target_org,
            input.test_level,
            package=input.package,
            coverage=input.coverage_percent,
            wait_minutes=input.wait_minutes,
        )


# --- bulk metadata operations -------------------------------------------------------------------------------

bulk_metadata_workflow = hatchet.workflow(name="sfp-bulk-metadata", input_validator=BulkMetadataInput)


@bulk_metadata_workflow.task(
    execution_timeout=timedelta(hours=4),
    retries=1,
    backoff_factor=2,
    credentials_from_input=["target_org", *REPO],
    **ON_LONG_RUNNING,
)
def bulk_metadata(input: BulkMetadataInput, ctx: Context) -> dict[str, Any]:
    with sfp_step(ctx, input) as step:
        _prepare(step, input)
        step.login(input.target_org)
        done = []
        for index, command in enumerate(input.operations, start=1):
            result = step.sfp(*command.split(), "-o", input.target_org)
            done.append(result.as_output())
            ctx.progress(100.0 * index / len(input.operations), f"{command}: {result.outcome.status}")
        return {"target_org": input.target_org, "operations": done}


# --- the composed release pipeline --------------------------------------------------------------------------

pipeline_workflow = hatchet.workflow(name="sfp-release-pipeline", input_validator=PipelineInput)


def _build_input(input: PipelineInput, ctx: Context) -> BuildInput:
    """Build exactly the commit that was validated, whatever the branch points at by now."""
    commit = ctx.task_output(validate)["commit"]
    repository = input.repository.model_copy(update={"ref": commit})
    return BuildInput(repository=repository, devhub=input.devhub, branch=input.repository.ref, simulate=input.simulate)


@pipeline_workflow.task(
    execution_timeout=timedelta(hours=3),
    retries=1,
    backoff_factor=2,
    credentials_from_input=["staging_org", "devhub", *REPO],
    **ON_LONG_RUNNING,
)
def validate(input: PipelineInput, ctx: Context) -> dict[str, Any]:
    with sfp_step(ctx, input) as step:
        return validate_against(step, input, input.staging_org, input.devhub, input.validate_mode)


@pipeline_workflow.task(
    parents=[validate],
    execution_timeout=timedelta(hours=2),
    retries=2,
    backoff_factor=2,
    backoff_max_seconds=300,
    credentials_from_input=["staging_org", "devhub", *REPO],
    **ON_LONG_RUNNING,
)
def deploy_staging(input: PipelineInput, ctx: Context) -> dict[str, Any]:
    with sfp_step(ctx, input) as step:
        return install_to(step, _build_input(input, ctx), input.staging_org)


@pipeline_workflow.task(
    parents=[deploy_staging],
    execution_timeout=timedelta(hours=8),
    retries=1,
    backoff_factor=2,
    credentials_from_input=["staging_org"],
    **ON_LONG_RUNNING,
)
def run_tests(input: PipelineInput, ctx: Context) -> dict[str, Any]:
    with sfp_step(ctx, input) as step:
        step.ws.repo.mkdir(exist_ok=True)
        return run_apex_tests(step, input.staging_org, input.test_level)


DECISION, TIMEOUT = "decision", "timeout"  # the readable keys of the gate's two conditions


@pipeline_workflow.durable_task(parents=[run_tests], execution_timeout=timedelta(minutes=5), **ON_LONG_RUNNING)
async def approval(input: PipelineInput, ctx: DurableContext) -> dict[str, Any]:
    minutes = input.approval_timeout_minutes
    if minutes is None:
        return {"required": False}
    await ctx.aio_log(f"waiting for approval (up to {minutes:g} minutes)")
    answered = await ctx.aio_wait_for(
        "approval",
        or_(
            SleepCondition(timedelta(minutes=minutes), readable_data_key=TIMEOUT),
            UserEventCondition(event_key=APPROVAL_EVENT, scope=ctx.workflow_run_id, readable_data_key=DECISION),
        ),
    )
    return gate_outcome(answered.get("CREATE", {}), minutes)


def gate_outcome(answered: dict[str, list[Any]], minutes: float) -> dict[str, Any]:
    """The gate's output for an approval, its error for a rejection or a timeout (Hatchet's `aio_wait_for`
    result: the conditions that held, by readable key; a decision that came with the timeout wins)."""
    decisions = answered.get(DECISION) or []
    if not decisions:
        raise NonRetryableException(f"approval timed out after {minutes:g} minutes")
    decision = decisions[0]
    by, comment = decision.get("by", ""), decision.get("comment", "")
    if decision.get("decision") != "approve":
        raise NonRetryableException(f"release rejected by {by}" + (f": {comment}" if comment else ""))
    return {"required": True, "approved_by": by, "comment": comment}


@pipeline_workflow.task(
    parents=[validate, run_tests, approval],
    execution_timeout=timedelta(hours=2),
    retries=1,
    backoff_factor=2,
    backoff_max_seconds=300,
    credentials_from_input=["production_org", "devhub", *REPO],
    **ON_LONG_RUNNING,
)
def deploy_production(input: PipelineInput, ctx: Context) -> dict[str, Any]:
    with sfp_step(ctx, input) as step:
        return install_to(step, _build_input(input, ctx), input.production_org)


WORKFLOWS = [apex_tests_workflow, bulk_metadata_workflow, pipeline_workflow]
