"""Task types of sfp server's task API: the registered workflow each one starts and the input model its `data`
must satisfy. One line per type.

Every sfp operation of tasks/ is a type here, validated by its own input model (tasks/inputs.py) before
anything is recorded: an invalid payload is refused naming the field (`data.<field>`). The models are named by
import path and imported when first used, so importing this module does no work.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from django.utils.module_loading import import_string


@dataclass(frozen=True)
class TaskType:
    workflow: str
    input_model: str | None = None  # dotted path of a pydantic model; None: the workflow's own validator alone
    summary: str = ""


_INPUTS = "tasks.inputs"

TASK_TYPES: dict[str, TaskType] = {
    "demo": TaskType("demo.pipeline", "tasks.demo.DemoInput", "the demo pipeline (no Salesforce needed)"),
    "build": TaskType("sfp-build", f"{_INPUTS}.BuildInput", "sfp build"),
    "quickbuild": TaskType("sfp-quickbuild", f"{_INPUTS}.BuildInput", "sfp quickbuild"),
    "install": TaskType("sfp-install", f"{_INPUTS}.InstallInput", "build, then sfp install into an org"),
    "validate": TaskType("sfp-validate", f"{_INPUTS}.ValidateInput", "sfp validate org"),
    "release": TaskType("sfp-release", f"{_INPUTS}.ReleaseInput", "sfp release of a release definition"),
    "releaseDefinition": TaskType(
        "sfp-release-definition", f"{_INPUTS}.ReleaseDefinitionInput", "sfp releasedefinition generate"
    ),
    "poolPrepare": TaskType("sfp-pool-prepare", f"{_INPUTS}.PoolPrepareInput", "sfp pool prepare"),
    "sourceTracking": TaskType("sfp-source-tracking", f"{_INPUTS}.SourceTrackingInput", "sfp project:pull / push"),
    "environment": TaskType("sfp-environment", f"{_INPUTS}.EnvironmentLockInput", "lock or unlock an environment"),
    "impactAnalysis": TaskType("sfp-impact", f"{_INPUTS}.ImpactInput", "sfp impact package"),
    "apexTests": TaskType("sfp-apex-tests", f"{_INPUTS}.ApexTestsInput", "sfp apextests trigger (long-running)"),
    "bulkMetadata": TaskType(
        "sfp-bulk-metadata", f"{_INPUTS}.BulkMetadataInput", "profile / flow operations (long-running)"
    ),
    "releasePipeline": TaskType(
        "sfp-release-pipeline", f"{_INPUTS}.PipelineInput", "validate, staging, tests, production (long-running)"
    ),
    "codeAnalysis": TaskType("sfp-code-analysis", f"{_INPUTS}.AnalysisInput", "sfp project:analyze"),
    "orgHealth": TaskType("sfp-org-health", f"{_INPUTS}.OrgHealthInput", "health check of one org"),
    "healthCheck": TaskType("sfp-health-check", f"{_INPUTS}.HealthCheckInput", "health check of every org"),
    "cacheRefresh": TaskType("sfp-cache-refresh", f"{_INPUTS}.CacheRefreshInput", "git mirrors, stale workspaces"),
}


def task_type(name: str) -> TaskType | None:
    return TASK_TYPES.get(name)


def workflow_for(name: str) -> str | None:
    found = TASK_TYPES.get(name)
    return found.workflow if found is not None else None


def known_types() -> list[str]:
    return sorted(TASK_TYPES)


def input_model(found: TaskType) -> Any:
    """The pydantic model class of a type's data, or None."""
    return _import(found.input_model) if found.input_model else None


@cache
def _import(path: str) -> Any:
    return import_string(path)
