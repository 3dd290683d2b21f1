"""What every sfp step does around its commands: a fresh workspace, the credentials its run named (leased
from the vault for this attempt, masked in everything it reports, cleared when it ends), the checkout, the
org logins, and the commands themselves.

    @wf.task(desired_worker_labels=pool(STANDARD), credentials_from_input=["target_org", "repository.token_credential"])
    def install(input: InstallInput, ctx: Context) -> dict:
        with sfp_step(ctx, input) as step:
            step.checkout(input.repository)
            step.login(input.target_org)
            return step.sfp("install", "-o", input.target_org).as_output()
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sfpserver.hatchet.context import Context
from sfpserver.vault import scope, sfdx
from sfpserver.vault import services as vault
from sfpserver.vault.exceptions import CredentialMissing
from sfpserver.vault.worker import LeasedSecrets, secrets_for
from tasks.inputs import Operation, Repository
from tasks.sfp import git
from tasks.sfp.runner import SfpError, SfpResult, command_name, run_sfp
from tasks.sfp.workspace import Workspace, workspace

logger = logging.getLogger(__name__)


class UnknownOrg(RuntimeError):
    """An operation names an org (or other credential) the vault does not hold, or one of the wrong kind."""

    non_retryable = True

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), self.args)


class ContextIO:
    """The runner's view of an SDK Context (tasks.sfp.runner.StepIO)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.attempt = ctx.retry_count
        self.step_name = ctx.task_name

    def log(self, line: str) -> None:
        self.ctx.log(line)

    def progress(self, percent: float, message: str) -> None:
        self.ctx.progress(percent, message)

    def on_stop(self, callback: Callable[[], None]) -> None:
        inv = self.ctx.invocation
        if inv is not None:
            inv.on_stop(callback)


@dataclass
class SfpStep:
    ctx: Context
    io: ContextIO
    ws: Workspace
    simulate: Mapping[str, Mapping[str, Any]]

    # Credentials -------------------------------------------------------------------------------------------
    def secrets(self, *names: str) -> LeasedSecrets:
        inv = self.ctx.invocation
        if inv is None:
            raise UnknownOrg("credentials can only be leased by a step running on a worker")
        try:
            return secrets_for(inv, [name for name in names if name])
        except CredentialMissing as exc:
            raise UnknownOrg(f"unknown org or credential {exc.name!r}: it does not exist in the vault") from None

    def secret(self, name: str) -> str:
        return self.secrets(name)[name]

    def secret_for(self, name: str, use: scope.Use, destination: str) -> str:
        """The value of `name`, once the vault agrees it may serve `use` at `destination` (CredentialMisuse,
        non-retryable, otherwise): checked here again because kinds and destinations may change after trigger."""
        value = self.secret(name)
        vault.check_use(name, use, destination)
        return value

    def login(self, *orgs: str | None) -> None:
        """Authorise each org for the CLI under its credential name as alias; the auth URL goes through stdin."""
        for org in dict.fromkeys(o for o in orgs if o):
            url = self.secret(org)
            vault.check_use(org, scope.Use.ORG_LOGIN, url if sfdx.parse(url) else None)  # the URL's own host
            if sfdx.parse(url) is None:
                raise UnknownOrg(f"credential {org!r} does not hold a valid SFDX auth URL (expected {sfdx.SHAPE})")
            self.sfp("org", "login", "url", "--url-stdin", "-", "--alias", org, stdin=url, cwd=self.ws.home)

    # Repository -------------------------------------------------------------------------------------------
    def repository_secrets(self, repository: Repository) -> tuple[str | None, str | None]:
        """The token and ssh key `repository` names, each checked against its URL before git sees it."""
        token, key = repository.token_credential, repository.ssh_key_credential
        return (
            self.secret_for(token, scope.Use.GIT_TOKEN, repository.url) if token else None,
            self.secret_for(key, scope.Use.SSH_KEY, repository.url) if key else None,
        )

    def checkout(self, repository: Repository) -> git.Checkout:
        token, key = self.repository_secrets(repository)
        self.io.log(f"checking out {repository.ref} of {repository.url}")
        done = git.checkout(self.ws, repository.url, repository.ref, token=token, ssh_key=key)
        self.io.log(f"checked out {done.commit}")
        return done

    def repo_file(self, relative: str) -> Path:
        path = (self.ws.repo / relative).resolve()
        if not path.is_relative_to(self.ws.repo.resolve()) or not path.is_file():
            raise SfpError(f"{relative} does not exist in the repository", retryable=False)
        return path

    # Commands ---------------------------------------------------------------------------------------------
    def sfp(
        self,
        *args: str,
        org_bound: bool = True,
        stdin: str | None = None,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        check: bool = True,
    ) -> SfpResult:
        return run_sfp(
            self.io,
            list(args),
            workspace=self.ws,
            org_bound=org_bound,
            cwd=cwd,
            stdin=stdin,
            env=env,
            simulate=self._simulation(command_name(args)),
            check=check,
        )

    def _simulation(self, command: str) -> Mapping[str, Any]:
        step = self.io.step_name
        for key in (f"{step}:{command}", step, command):
            if key in self.simulate:
                return self.simulate[key]
        return {}


@contextmanager
def sfp_step(ctx: Context, operation: Operation, label: str | None = None) -> Iterator[SfpStep]:
    with workspace(label or ctx.task_name) as ws:
        yield SfpStep(ctx, ContextIO(ctx), ws, operation.simulate)


def flags(*pairs: tuple[str, object]) -> list[str]:
    """`--flag value` pairs for the values that are set (True for bare flags)."""
    args: list[str] = []
    for name, value in pairs:
        if value is None or value is False or value == "" or value == []:
            continue
        args.append(name)
        if value is not True:
            args.append(",".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value))
    return args


def names(values: Sequence[str | None]) -> list[str]:
    return [value for value in values if value]
