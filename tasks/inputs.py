"""Typed inputs of the sfp operations. Validated when a run is triggered (SDK, API or cron): a bad value is
refused before anything is recorded, with the field and the reason.

Credentials are named, never carried: `target_org`, `devhub`, `repository.token_credential`, ... are vault
credential names, which the tasks declare with `credentials_from_input` so that a step may lease exactly
the credentials its run names (sfpserver/engine/definitions.py `resolve_args`). At trigger, each named
credential that exists must serve that field's use at that field's destination (sfpserver/vault/scope.py): an
org field takes an SFDX auth URL, `repository.token_credential` a GitHub token allowed for the repository's
https host, `repository.ssh_key_credential` a generic key allowed for its ssh host, `npm_token_credential`
an npm token for `npm_registry`. Otherwise the trigger is refused naming the field; nothing is recorded.

`simulate` is for the Salesforce stand-in only: per step name, per command name, or per `step:command`, what
the stand-in should do (`seconds`, `fail_attempts`, `fail`, `failed_packages`, `capacity`, `nothing_changed`,
`message`, `exit_code`, and the careless-CLI probes `leak_env`, `leak_stdin`, `grandchild`). A server running
the real CLI (SFP_CLI=real, as the deploy files do) refuses an input that carries it, naming the field.

Release names become file names (`release/<name>.yml` in the step's workspace): they match RELEASE_NAME
(tasks/releasedef.py), so no path leaves the workspace.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from django.conf import settings
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from tasks import releasedef
from tasks.sfp.git import RepositoryError, check_ref, check_url

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._@:-]{0,199}$"  # a vault credential name (sfpserver/vault/kinds.py)
PACKAGE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.@/-]{0,199}$"
PATH_PATTERN = r"^[A-Za-z0-9_-][A-Za-z0-9_/-]*(\.[A-Za-z0-9_-][A-Za-z0-9_/-]*)*$"  # relative; no `..`, no leading /

CredentialName = Annotated[str, Field(pattern=NAME_PATTERN)]


def may_use(name: str | None, use: str, destination: str | None, info: ValidationInfo) -> None:
    """At trigger only (the worker checks again where it hands the value over): ValueError unless the vault's
    credential `name` may serve `use` (a sfpserver.vault.scope.Use name) at `destination`."""
    if not name or not (info.context or {}).get("at_trigger"):
        return
    from sfpserver.vault import scope, services
    from sfpserver.vault.exceptions import CredentialMisuse

    try:
        services.check_use(name, scope.Use[use], destination)
    except CredentialMisuse as exc:
        raise ValueError(str(exc)) from None


def _org(value: str, info: ValidationInfo) -> str:
    may_use(value, "ORG_LOGIN", None, info)
    return value


def _npm_token(value: str, info: ValidationInfo) -> str:
    may_use(value, "NPM_TOKEN", None, info)
    return value


OrgName = Annotated[CredentialName, AfterValidator(_org)]  # an sfdx_auth_url credential
NpmTokenName = Annotated[CredentialName, AfterValidator(_npm_token)]  # an npm_token credential
PackageName = Annotated[str, Field(pattern=PACKAGE_PATTERN)]
RepoPath = Annotated[str, Field(pattern=PATH_PATTERN, max_length=300)]


def _url(value: str) -> str:
    try:
        return check_url(value)
    except RepositoryError as exc:
        raise ValueError(str(exc)) from None


def _ref(value: str) -> str:
    try:
        return check_ref(value)
    except RepositoryError as exc:
        raise ValueError(str(exc)) from None


class Repository(BaseModel):
    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)
    url: Annotated[str, AfterValidator(_url)]
    ref: Annotated[str, AfterValidator(_ref)] = "main"
    token_credential: CredentialName | None = None  # a GitHub token for https URLs
    ssh_key_credential: CredentialName | None = None  # a generic credential holding a private key

    @field_validator("token_credential")
    @classmethod
    def _token_for_host(cls, value: str | None, info: ValidationInfo) -> str | None:
        if "url" in info.data:
            may_use(value, "GIT_TOKEN", info.data["url"], info)
        return value

    @field_validator("ssh_key_credential")
    @classmethod
    def _key_for_host(cls, value: str | None, info: ValidationInfo) -> str | None:
        if "url" in info.data:
            may_use(value, "SSH_KEY", info.data["url"], info)
        return value


def _release_name(value: str) -> str:
    try:
        return releasedef.check_release_name(value)
    except releasedef.ReleaseDefinitionError as exc:
        raise ValueError(str(exc)) from None


class Operation(BaseModel):
    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)
    simulate: dict[str, dict[str, Any]] = Field(default_factory=dict)

    @field_validator("simulate")
    @classmethod
    def _standin_only(cls, value: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        if value and settings.SFP_CLI != "standin":
            raise ValueError("is for the Salesforce stand-in only (SFP_CLI=standin); this server runs the real sfp CLI")
        return value


class RepoOperation(Operation):
    repository: Repository


class BuildInput(RepoOperation):
    devhub: OrgName
    branch: str | None = None  # defaults to the repository ref
    packages: list[PackageName] = Field(default_factory=list)
    diffcheck: bool = False
    build_number: int = Field(default=1, ge=1)


class InstallInput(BuildInput):
    target_org: OrgName
    skip_if_already_installed: bool = False


class ValidateInput(RepoOperation):
    target_org: OrgName
    devhub: OrgName | None = None
    mode: Literal["individual", "fastfeedback", "thorough", "ff-release-config", "thorough-release-config"] = "thorough"
    coverage_percent: int = Field(default=75, ge=0, le=100)
    release_config: RepoPath | None = None


class ReleaseInput(Operation):
    target_org: OrgName
    release_definition: str | None = None  # the YAML itself ...
    repository: Repository | None = None  # ... or a path in this repository
    release_definition_path: RepoPath | None = None
    npm_scope: Annotated[str, Field(pattern=r"^@[a-z0-9][a-z0-9._-]*$")] | None = None
    npm_registry: Annotated[str, Field(pattern=r"^https://[^\s@]+$")] = "https://registry.npmjs.org/"  # no http://
    npm_token_credential: CredentialName | None = None
    devhub: OrgName | None = None

    @field_validator("npm_token_credential")
    @classmethod
    def _token_for_registry(cls, value: str | None, info: ValidationInfo) -> str | None:
        if "npm_registry" in info.data:
            may_use(value, "NPM_TOKEN", info.data["npm_registry"], info)
        return value

    @field_validator("release_definition")
    @classmethod
    def _definition(cls, value: str | None) -> str | None:
        if value is not None:
            releasedef.parse(value)  # ReleaseDefinitionError is a ValueError: refused at trigger
        return value

    @model_validator(mode="after")
    def _one_definition(self) -> ReleaseInput:
        if (self.release_definition is None) == (self.release_definition_path is None):
            raise ValueError("give either release_definition (YAML) or release_definition_path (with repository)")
        if self.release_definition_path is not None and self.repository is None:
            raise ValueError("release_definition_path needs the repository it is in")
        return self


class ReleaseDefinitionInput(RepoOperation):
    release_config: RepoPath = "config/release-config.yaml"
    release_name: Annotated[str, AfterValidator(_release_name)]
    gitref: Annotated[str, AfterValidator(_ref)] = "HEAD"


class PoolPrepareInput(RepoOperation):
    devhub: OrgName
    pool_config: RepoPath = "config/poolconfig.json"
    npm_token_credential: NpmTokenName | None = None


class SourceTrackingInput(RepoOperation):
    target_org: OrgName
    direction: Literal["pull", "push"]
    packages: list[PackageName] = Field(default_factory=list)
    ignore_conflicts: bool = False


class EnvironmentLockInput(Operation):
    environment: OrgName
    action: Literal["lock", "unlock"]
    ticket: Annotated[str, Field(pattern=r"^[0-9a-f-]{36}$")] | None = None  # required to unlock
    duration_minutes: int = Field(default=60, ge=1, le=7 * 24 * 60)
    wait_minutes: int = Field(default=0, ge=0, le=120)
    reason: Annotated[str, Field(max_length=500)] = ""
    repository: Annotated[str, Field(max_length=300)] = ""

    @model_validator(mode="after")
    def _ticket(self) -> EnvironmentLockInput:
        if self.action == "unlock" and not self.ticket:
            raise ValueError("unlock needs the ticket that lock returned")
        return self


class ImpactInput(RepoOperation):
    base_branch: Annotated[str, AfterValidator(_ref)] = "main"


class ApexTestsInput(Operation):
    target_org: OrgName
    repository: Repository | None = None
    test_level: Literal[
        "RunLocalTests", "RunAllTestsInOrg", "RunAllTestsInPackage", "RunApexTestSuite", "RunSpecifiedTests"
    ] = "RunLocalTests"
    package: PackageName | None = None
    coverage_percent: int = Field(default=75, ge=0, le=100)
    wait_minutes: int = Field(default=0, ge=0)


BulkCommand = Literal[
    "profile retrieve", "profile reconcile", "profile merge", "flow activate", "flow deactivate", "flow cleanup"
]


class BulkMetadataInput(Operation):
    target_org: OrgName
    repository: Repository | None = None
    operations: list[BulkCommand] = Field(min_length=1)


class PipelineInput(RepoOperation):
    devhub: OrgName
    staging_org: OrgName
    production_org: OrgName
    validate_mode: Literal["individual", "fastfeedback", "thorough"] = "thorough"
    test_level: Literal["RunLocalTests", "RunAllTestsInOrg"] = "RunLocalTests"
    # The approval gate before production (off when absent): a decision through POST runs/{id}/approval or the
    # dashboard within this many minutes, or the gate fails.
    approval_timeout_minutes: float | None = Field(default=None, gt=0, le=7 * 24 * 60)


class AnalysisInput(Operation):
    repositories: list[Repository] = Field(default_factory=list)
    fail_on: list[Annotated[str, Field(pattern=r"^[a-z0-9-]+$")]] = Field(default_factory=list)


class HealthCheckInput(Operation):
    orgs: list[OrgName] | None = None  # None: every Salesforce org in the vault


class OrgHealthInput(Operation):
    org: OrgName


class CacheRefreshInput(Operation):
    repositories: list[Repository] = Field(default_factory=list)
    stale_workspace_hours: float | None = Field(default=None, gt=0)
