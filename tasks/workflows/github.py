"""GitHub webhooks start builds and validations.

A GitHub webhook posts to an incoming webhook of the platform (README "Webhooks"), whose event key expression
`'github:' + headers['x-github-event']` turns a push into the event `github:push` and a pull request into
`github:pull_request`, scoped by `input.repository.full_name`. These two workflows listen on those keys;
an event filter per repository (scope `owner/repo`) says which deliveries count (its expression, e.g.
`input.ref == 'refs/heads/main'` or `input.action in ['opened', 'synchronize', 'reopened']`) and carries the
settings GitHub cannot know in its payload: the build's devhub, the validation's target org, the token
credential for a private repository. Each run maps the delivery to the operation's input and starts the sfp
operation (`sfp-build`, `sfp-validate`) as its child, whose run id it returns.
"""

from __future__ import annotations

from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sfpserver.hatchet.context import Context
from sfpserver.hatchet.exceptions import NonRetryableException
from tasks.client import hatchet
from tasks.inputs import BuildInput, CredentialName, OrgName, PackageName, Repository, ValidateInput
from tasks.pools import STANDARD, pool
from tasks.workflows.standard import build_workflow, validate_workflow

PUSH_EVENT = "github:push"
PULL_REQUEST_EVENT = "github:pull_request"


class _GitHub(BaseModel):
    model_config = ConfigDict(extra="ignore")  # GitHub sends far more than is read here


class GitHubRepository(_GitHub):
    full_name: str
    clone_url: str


class GitHubPush(_GitHub):
    ref: str
    after: str
    deleted: bool = False
    repository: GitHubRepository


class GitHubBranch(_GitHub):
    ref: str
    sha: str


class GitHubPullRequest(_GitHub):
    number: int
    head: GitHubBranch
    base: GitHubBranch


class GitHubPullRequestEvent(_GitHub):
    action: str
    pull_request: GitHubPullRequest
    repository: GitHubRepository


class _Settings(BaseModel):
    """What the repository's event filter carries as its payload (`ctx.filter_payload`)."""

    model_config = ConfigDict(extra="forbid")
    token_credential: CredentialName | None = None
    simulate: dict[str, dict[str, Any]] = Field(default_factory=dict)  # the Salesforce stand-in only


class BuildSettings(_Settings):
    devhub: OrgName
    packages: list[PackageName] = Field(default_factory=list)
    diffcheck: bool = False


class ValidateSettings(_Settings):
    target_org: OrgName
    devhub: OrgName | None = None
    mode: Literal["individual", "fastfeedback", "thorough", "ff-release-config", "thorough-release-config"] = "thorough"


S = TypeVar("S", bound=_Settings)


def settings_of(kind: type[S], ctx: Context, workflow: str, repository: str) -> S:
    """The filter payload as settings; a delivery with no (or bad) settings fails at once, saying what to add."""
    try:
        return kind.model_validate(ctx.filter_payload)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise NonRetryableException(
            f"no usable settings for {repository}: create an event filter for workflow {workflow!r} in scope "
            f"{repository!r} whose payload holds them ({problems})"
        ) from None


github_push = hatchet.workflow(name="github-push", on_events=[PUSH_EVENT], input_validator=GitHubPush)
github_pull_request = hatchet.workflow(
    name="github-pull-request", on_events=[PULL_REQUEST_EVENT], input_validator=GitHubPullRequestEvent
)


@github_push.task(desired_worker_labels=pool(STANDARD))
def start_build(input: GitHubPush, ctx: Context) -> dict[str, Any]:
    if input.deleted:
        return {"skipped": f"{input.ref} was deleted"}
    settings = settings_of(BuildSettings, ctx, github_push.name, input.repository.full_name)
    branch = input.ref.removeprefix("refs/heads/")
    build = BuildInput(
        repository=Repository(
            url=input.repository.clone_url, ref=input.after, token_credential=settings.token_credential
        ),
        devhub=settings.devhub,
        branch=branch,
        packages=settings.packages,
        diffcheck=settings.diffcheck,
        simulate=settings.simulate,
    )
    ref = build_workflow.run(build, wait_for_result=False)
    return {"build_run_id": ref.workflow_run_id, "branch": branch, "commit": input.after}


@github_pull_request.task(desired_worker_labels=pool(STANDARD))
def start_validation(input: GitHubPullRequestEvent, ctx: Context) -> dict[str, Any]:
    settings = settings_of(ValidateSettings, ctx, github_pull_request.name, input.repository.full_name)
    head = input.pull_request.head
    validate = ValidateInput(
        repository=Repository(url=input.repository.clone_url, ref=head.sha, token_credential=settings.token_credential),
        target_org=settings.target_org,
        devhub=settings.devhub,
        mode=settings.mode,
        simulate=settings.simulate,
    )
    ref = validate_workflow.run(validate, wait_for_result=False)
    return {"validate_run_id": ref.workflow_run_id, "pull_request": input.pull_request.number, "commit": head.sha}


WORKFLOWS = [github_push, github_pull_request]
