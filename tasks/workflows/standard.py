"""Operations on the standard pool: builds, deployments, validation, releases, scratch-org pools, source
tracking, environment locks and impact analysis (sfp-domain §2.2)."""

from __future__ import annotations

import itertools
import json
from datetime import timedelta
from functools import partial
from typing import Any

from sfpserver.hatchet import SleepCondition, UserEventCondition, or_
from sfpserver.hatchet.context import Context, DurableContext
from sfpserver.hatchet.dbsync import aio_db
from sfpserver.submissions.approvals import ENVIRONMENT_UNLOCKED
from sfpserver.vault.scope import Use
from tasks import environments, releasedef
from tasks.client import hatchet
from tasks.inputs import (
    BuildInput,
    EnvironmentLockInput,
    ImpactInput,
    InstallInput,
    PoolPrepareInput,
    ReleaseDefinitionInput,
    ReleaseInput,
    SourceTrackingInput,
    ValidateInput,
)
from tasks.pools import STANDARD, pool
from tasks.sfp import git
from tasks.sfp.runner import SfpError
from tasks.steps import SfpStep, flags, sfp_step

REPO = ["repository.token_credential", "repository.ssh_key_credential"]
QUEUED_FOR = timedelta(hours=24)  # a step may wait this long for a free worker before it is cancelled
ON_STANDARD: dict[str, Any] = {"desired_worker_labels": pool(STANDARD), "schedule_timeout": QUEUED_FOR}


# --- build / quickbuild -------------------------------------------------------------------------------------


def build_artifacts(step: SfpStep, input: BuildInput, command: str = "build") -> dict[str, Any]:
    """Check out, log in to the devhub and build; the artifacts land in `artifacts/` of the checkout."""
    checkout = step.checkout(input.repository)
    step.login(input.devhub)
    result = step.sfp(
        command,
        "-v",
        input.devhub,
        "--branch",
        input.branch or input.repository.ref,
        "--artifactdir",
        "artifacts",
        *flags(("-p", input.packages), ("--diffcheck", input.diffcheck), ("--buildnumber", input.build_number)),
    )
    artifacts = sorted(path.name for path in (step.ws.repo / "artifacts").glob("*.zip"))
    return {**result.as_output(), "commit": checkout.commit, "artifacts": artifacts}


build_workflow = hatchet.workflow(name="sfp-build", input_validator=BuildInput)
quickbuild_workflow = hatchet.workflow(name="sfp-quickbuild", input_validator=BuildInput)


@build_workflow.task(
    execution_timeout=timedelta(hours=2),
    retries=1,
    backoff_factor=2,
    credentials_from_input=["devhub", *REPO],
    **ON_STANDARD,
)
def build(input: BuildInput, ctx: Context) -> dict[str, Any]:
    with sfp_step(ctx, input) as step:
        return build_artifacts(step, input, "build")


@quickbuild_workflow.task(
    execution_timeout=timedelta(hours=1),
    retries=1,
    backoff_factor=2,
    credentials_from_input=["devhub", *REPO],
    **ON_STANDARD,
)
def quickbuild(input: BuildInput, ctx: Context) -> dict[str, Any]:
    with sfp_step(ctx, input) as step:
        return build_artifacts(step, input, "quickbuild")


# --- install (deploy) ---------------------------------------------------------------------------------------

install_workflow = hatchet.workflow(name="sfp-install", input_validator=InstallInput)


def install_to(step: SfpStep, input: BuildInput, org: str, *, skip_installed: bool = False) -> dict[str, Any]:
    built = build_artifacts(step, input, "build")
    step.login(org)
    result = step.sfp(
        "install",
        "-o",
        org,
        "--artifactdir",
        "artifacts",
        "--waittime",
        "120",
        *flags(("--skipifalreadyinstalled", skip_installed)),
    )
    return {**result.as_output(), "commit": built["commit"], "artifacts": built["artifacts"], "target_org": org}


@install_workflow.task(
    execution_timeout=timedelta(hours=2),
    retries=1,
    backoff_factor=2,
    credentials_from_input=["target_org", "devhub", *REPO],
    **ON_STANDARD,
)
def install(input: InstallInput, ctx: Context) -> dict[str, Any]:
    with sfp_step(ctx, input) as step:
        return install_to(step, input, input.target_org, skip_installed=input.skip_if_already_installed)


# --- validate -----------------------------------------------------------------------------------------------

validate_workflow = hatchet.workflow(name="sfp-validate", input_validator=ValidateInput)


def validate_against(
    step: SfpStep, input: ValidateInput | Any, org: str, devhub: str | None, mode: str
) -> dict[str, Any]:
    checkout = step.checkout(input.repository)
    step.login(org, devhub)
    result = step.sfp(
        "validate",
        "org",
        "-o",
        org,
        "--mode",
        mode,
        *flags(
            ("--coveragepercent", getattr(input, "coverage_percent", None)),
            ("--releaseconfig", getattr(input, "release_config", None)),
            ("-v", devhub),
        ),
    )
    return {**result.as_output(), "commit": checkout.commit, "target_org": org}


@validate_workflow.task(
    execution_timeout=timedelta(hours=3),
    retries=1,
    backoff_factor=2,
    credentials_from_input=["target_org", "devhub", *REPO],
    **ON_STANDARD,
)
def validate(input: ValidateInput, ctx: Context) -> dict[str, Any]:
    with sfp_step(ctx, input) as step:
        return validate_against(step, input, input.target_org, input.devhub, input.mode)


# --- release ------------------------------------------------------------------------------------------------

release_workflow = hatchet.workflow(name="sfp-release", input_validator=ReleaseInput)


@release_workflow.task(
    execution_timeout=timedelta(hours=2),
    retries=1,
    backoff_factor=2,
    credentials_from_input=["target_org", "devhub", "npm_token_credential", *REPO],
    **ON_STANDARD,
)
def release(input: ReleaseInput, ctx: Context) -> dict[str, Any]:
    with sfp_step(ctx, input) as step:
        if input.repository is not None:
            step.checkout(input.repository)
        else:
            step.ws.repo.mkdir(exist_ok=True)
        text = input.release_definition or step.repo_file(str(input.release_definition_path)).read_text("utf-8")
        definition = releasedef.parse(text)
        path = releasedef.release_file(step.ws.root / "release", definition.release)
        path.parent.mkdir()
        path.write_text(releasedef.dump(definition), encoding="utf-8")
        step.login(input.target_org, input.devhub)
        npm_args, env = npm_access(step, input)
        result = step.sfp(
            "release",
            "-p",
            str(path),
            "-o",
            input.target_org,
            "--waittime",
            "120",
            *npm_args,
            *flags(("-v", input.devhub)),
            env=env,
        )
        return {**result.as_output(), "release": definition.release, "artifacts": definition.artifacts}


def npm_access(step: SfpStep, input: ReleaseInput) -> tuple[list[str], dict[str, str]]:
    """`--npm --scope … --npmrcpath …` and the environment that holds the token: the private .npmrc refers
    to ${SFP_NPM_TOKEN}, which npm expands, so the token is in no file at all."""
    if not input.npm_scope:
        return [], {}
    registry = input.npm_registry.rstrip("/") + "/"
    lines = [f"{input.npm_scope}:registry={registry}"]
    env = {}
    if input.npm_token_credential:
        lines.append(f"//{registry.split('://', 1)[1]}:_authToken=${{SFP_NPM_TOKEN}}")
        env["SFP_NPM_TOKEN"] = step.secret_for(input.npm_token_credential, Use.NPM_TOKEN, registry)
    npmrc = step.ws.private_file(".npmrc", "\n".join(lines) + "\n")
    return ["--npm", "--scope", input.npm_scope, "--npmrcpath", str(npmrc)], env


# --- release definition (org-free) -------------------------------------------------------------------------

release_definition_workflow = hatchet.workflow(name="sfp-release-definition", input_validator=ReleaseDefinitionInput)


@release_definition_workflow.task(execution_timeout=timedelta(minutes=15), credentials_from_input=REPO, **ON_STANDARD)
def generate_release_definition(input: ReleaseDefinitionInput, ctx: Context) -> dict[str, Any]:
    with sfp_step(ctx, input) as step:
        checkout = step.checkout(input.repository)
        step.repo_file(input.release_config)
        result = step.sfp(
            "releasedefinition",
            "generate",
            "-c",
            input.gitref,
            "-f",
            input.release_config,
            "-n",
            input.release_name,
            "--nopush",
            org_bound=False,
        )
        text = releasedef.from_cli_output(result.lines)
        if text is None:
            raise SfpError(
                "sfp releasedefinition generate printed no release definition: "
                + " ".join(line for line in result.lines[-5:] if line),
                retryable=False,
            )
        definition = releasedef.parse(text)
        return {
            **result.as_output(),
            "commit": checkout.commit,
            "release_definition": text,
            "artifacts": definition.artifacts,
        }


# --- scratch-org pool ---------------------------------------------------------------------------------------

pool_prepare_workflow = hatchet.workflow(name="sfp-pool-prepare", input_validator=PoolPrepareInput)


@pool_prepare_workflow.task(
    execution_timeout=timedelta(hours=3),
    retries=1,
    backoff_factor=2,
    credentials_from_input=["devhub", "npm_token_credential", *REPO],
    **ON_STANDARD,
)
def prepare_pool(input: PoolPrepareInput, ctx: Context) -> dict[str, Any]:
    with sfp_step(ctx, input) as step:
        checkout = step.checkout(input.repository)
        step.repo_file(input.pool_config)
        step.login(input.devhub)
        result = step.sfp("pool", "prepare", "-v", input.devhub, "-f", input.pool_config)
        return {**result.as_output(), "commit": checkout.commit}


# --- source tracking (sfp-pro commands; played by the stand-in when SFP_CLI=standin) -----------------------

source_tracking_workflow = hatchet.workflow(name="sfp-source-tracking", input_validator=SourceTrackingInput)


@source_tracking_workflow.task(
    execution_timeout=timedelta(hours=1),
    retries=1,
    backoff_factor=2,
    credentials_from_input=["target_org", *REPO],
    **ON_STANDARD,
)
def track_source(input: SourceTrackingInput, ctx: Context) -> dict[str, Any]:
    with sfp_step(ctx, input) as step:
        checkout = step.checkout(input.repository)
        step.login(input.target_org)
        result = step.sfp(
            f"project:{input.direction}",
            "-o",
            input.target_org,
            *flags(("-p", input.packages), ("-i", input.ignore_conflicts and input.direction == "pull")),
        )
        changed = git.run_git(["status", "--porcelain"], step.ws, step.ws.repo).splitlines()
        return {**result.as_output(), "commit": checkout.commit, "direction": input.direction, "changed": changed}


# --- environment configuration: lock / unlock with a ticket -----------------------------------------------

environment_workflow = hatchet.workflow(name="sfp-environment", input_validator=EnvironmentLockInput)


@environment_workflow.durable_task(execution_timeout=timedelta(minutes=5), retries=0, **ON_STANDARD)
async def configure_environment(input: EnvironmentLockInput, ctx: DurableContext) -> dict[str, Any]:
    if input.action == "unlock":
        await ctx.aio_log(f"unlocking environment {input.environment}")
        released = await aio_db(partial(environments.unlock, input.environment, str(input.ticket)))
        await hatchet.event.aio_push(ENVIRONMENT_UNLOCKED, {"environment": input.environment}, scope=input.environment)
        return released
    await ctx.aio_log(f"locking environment {input.environment} for {input.duration_minutes} min")
    return await lock_durably(ctx, input)


async def lock_durably(ctx: DurableContext, input: EnvironmentLockInput) -> dict[str, Any]:
    """Try the lock; while another run holds it, wait durably (no slot held: the task is evicted) for its unlock
    event or until the next try is due, up to `wait_minutes`. On replay every try runs again (a try is safe to
    repeat) and every wait, keyed by its round, answers from the task's log; the deadline is remembered."""
    deadline = await ctx.aio_now() + timedelta(minutes=input.wait_minutes)
    attempt = partial(
        environments.try_lock,
        input.environment,
        minutes=input.duration_minutes,
        reason=input.reason,
        repository=input.repository,
        run_id=ctx.workflow_run_id,
    )
    for turn in itertools.count():
        now = await ctx.aio_now()
        held = await aio_db(attempt)
        if not isinstance(held, environments.Held):
            return held
        if now >= deadline:
            raise environments.busy(input.environment, held, 60 * input.wait_minutes)
        pause = environments.next_try_in(now, deadline)
        await ctx.aio_log(f"environment {input.environment} is locked until {held.until:%H:%M:%S} UTC; waiting")
        # An unlock pushed since this try counts, even one pushed before the wait is recorded.
        unlocked = UserEventCondition(
            event_key=ENVIRONMENT_UNLOCKED, scope=input.environment, consider_events_since=now
        )
        await ctx.aio_wait_for(f"environment-lock:{turn}", or_(SleepCondition(pause), unlocked))
    raise AssertionError("unreachable")


# --- impact analysis (org-free: the real CLI) ---------------------------------------------------------------

impact_workflow = hatchet.workflow(name="sfp-impact", input_validator=ImpactInput)


@impact_workflow.task(execution_timeout=timedelta(minutes=15), retries=1, credentials_from_input=REPO, **ON_STANDARD)
def impact(input: ImpactInput, ctx: Context) -> dict[str, Any]:
    with sfp_step(ctx, input) as step:
        checkout = step.checkout(input.repository)
        result = step.sfp("impact", "package", "--basebranch", input.base_branch, org_bound=False)
        written = step.ws.repo / "impacted-package.json"
        try:
            impacted = json.loads(written.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            raise SfpError("sfp impact package wrote no impacted-package.json", retryable=False) from None
        return {**result.as_output(), "commit": checkout.commit, "impacted": impacted}


WORKFLOWS = [
    build_workflow,
    quickbuild_workflow,
    install_workflow,
    validate_workflow,
    release_workflow,
    release_definition_workflow,
    pool_prepare_workflow,
    source_tracking_workflow,
    environment_workflow,
    impact_workflow,
]
