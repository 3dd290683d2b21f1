"""Recurring workflows, registered as cron entries when the scheduler starts (editable in the admin: the
schedule, the enabled flag and the input in the entry's kwargs; an operator's edit survives restarts).

- code analysis (`sfp project:analyze`, an sfp-pro command played by the stand-in when SFP_CLI=standin) of
  the repositories in its input;
- environment health check: one child run per Salesforce org (every org in the vault unless the input names
  some), each logging in and querying the org's installed artifacts; a child leases only its own org;
- cache refresh: git mirrors of the repositories in its input (checkouts borrow their objects) and removal
  of workspaces that killed workers left behind.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from sfpserver.hatchet.context import Context
from sfpserver.vault import services as vault
from tasks.client import hatchet
from tasks.inputs import AnalysisInput, CacheRefreshInput, HealthCheckInput, OrgHealthInput, Repository
from tasks.pools import STANDARD, pool
from tasks.sfp import git
from tasks.sfp.runner import SfpError
from tasks.sfp.workspace import prune_stale
from tasks.steps import SfpStep, UnknownOrg, flags, sfp_step

ON_STANDARD: dict[str, Any] = {"desired_worker_labels": pool(STANDARD), "schedule_timeout": timedelta(hours=1)}
REPOS = ["repositories.token_credential", "repositories.ssh_key_credential"]


# --- code analysis ------------------------------------------------------------------------------------------

analysis_workflow = hatchet.workflow(
    name="sfp-code-analysis", input_validator=AnalysisInput, on_crons=["0 2 * * *"], cron_input=AnalysisInput()
)


@analysis_workflow.task(execution_timeout=timedelta(minutes=30), retries=1, credentials_from_input=REPOS, **ON_STANDARD)
def analyse(input: AnalysisInput, ctx: Context) -> dict[str, Any]:
    reports = []
    for index, repository in enumerate(input.repositories, start=1):
        with sfp_step(ctx, input, f"analysis-{index}") as step:
            checkout = step.checkout(repository)
            report_dir = step.ws.home / "report"  # the CLI writes it: inside what its user owns
            result = step.sfp(
                "project:analyze",
                "--output-format",
                "json",
                "--report-dir",
                str(report_dir),
                *flags(("--fail-on", input.fail_on)),
            )
            reports.append(
                {
                    **result.as_output(),
                    "url": repository.url,
                    "commit": checkout.commit,
                    "report": _read_json(report_dir / "analysis.json"),
                }
            )
        ctx.progress(100.0 * index / len(input.repositories), f"analysed {repository.url}")
    if not reports:
        ctx.log("no repositories to analyse: set them in the cron entry's input")
    return {"repositories": reports}


def _read_json(path: Path) -> Any:
    import json

    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


# --- environment health check -------------------------------------------------------------------------------

org_health_workflow = hatchet.workflow(name="sfp-org-health", input_validator=OrgHealthInput)
health_workflow = hatchet.workflow(
    name="sfp-health-check", input_validator=HealthCheckInput, on_crons=["*/30 * * * *"], cron_input=HealthCheckInput()
)


@org_health_workflow.task(execution_timeout=timedelta(minutes=10), credentials_from_input=["org"], **ON_STANDARD)
def check_org(input: OrgHealthInput, ctx: Context) -> dict[str, Any]:
    with sfp_step(ctx, input) as step:
        step.ws.repo.mkdir(exist_ok=True)
        try:
            step.login(input.org)
            result = step.sfp("artifacts", "query", "-o", input.org, "--json")
        except (SfpError, UnknownOrg) as exc:
            return {"org": input.org, "healthy": False, "reason": str(exc)}
        return {"org": input.org, "healthy": True, "exit_code": result.exit_code}


@health_workflow.task(execution_timeout=timedelta(minutes=5), **ON_STANDARD)
def discover_orgs(input: HealthCheckInput, ctx: Context) -> dict[str, Any]:
    orgs = input.orgs if input.orgs is not None else [c["name"] for c in vault.list_credentials("sfdx_auth_url")]
    items = [
        org_health_workflow.create_bulk_run_item(input=OrgHealthInput(org=org, simulate=input.simulate)) for org in orgs
    ]
    refs = org_health_workflow.run_many(items, wait_for_result=False) if items else []
    ctx.log(f"checking {len(orgs)} org(s)")
    return {"orgs": orgs, "runs": [ref.workflow_run_id for ref in refs]}


# --- cache refresh ------------------------------------------------------------------------------------------

cache_workflow = hatchet.workflow(
    name="sfp-cache-refresh", input_validator=CacheRefreshInput, on_crons=["15 * * * *"], cron_input=CacheRefreshInput()
)


@cache_workflow.task(execution_timeout=timedelta(minutes=30), credentials_from_input=REPOS, **ON_STANDARD)
def refresh_cache(input: CacheRefreshInput, ctx: Context) -> dict[str, Any]:
    removed = prune_stale(input.stale_workspace_hours)
    ctx.log(f"removed {len(removed)} stale workspace(s)")
    mirrors = []
    for repository in input.repositories:
        with sfp_step(ctx, input, "cache") as step:
            mirrors.append(_refresh_mirror(step, repository, ctx))
    return {"stale_workspaces_removed": removed, "mirrors": mirrors}


def _refresh_mirror(step: SfpStep, repository: Repository, ctx: Context) -> dict[str, Any]:
    token, key = step.repository_secrets(repository)
    path = git.mirror(step.ws, repository.url, token=token, ssh_key=key)
    ctx.log(f"mirror of {repository.url} refreshed")
    return {"url": repository.url, "mirror": path.name}


WORKFLOWS = [analysis_workflow, org_health_workflow, health_workflow, cache_workflow]
