"""Checking out the repository and ref an operation names, into the step's workspace.

URLs: `ssh://` (or scp-like `git@host:owner/repo.git`), `https://` (never plain http://) and `file://` only
under SFP_FILE_REPOSITORY_ROOT (unset: refused). A token for https comes from the vault and reaches git only
through its environment: a credential helper configured with GIT_CONFIG_* variables for that one host
(`credential.https://HOST.helper`, so a redirect or a submodule elsewhere never gets it) reads it from
SFP_GIT_TOKEN; it is in no argument, no URL, no .git/config and no output, and a file:// or ssh clone gets no
token at all. An ssh key from the vault is a 0600 file in the workspace, removed with it. Git never prompts.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from django.conf import settings

from tasks.sfp.workspace import Workspace

CLONE_TIMEOUT = 600
SCP_LIKE = re.compile(r"^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:[^/\\][^\s]*$")
REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/@{}^~-]{0,254}$")
TOKEN_HELPER = '!f() { test "$1" = get || exit 0; echo username=x-access-token; echo "password=$SFP_GIT_TOKEN"; }; f'
IDENTITY = {
    "GIT_AUTHOR_NAME": "sfp server",
    "GIT_AUTHOR_EMAIL": "sfp-server@localhost",
    "GIT_COMMITTER_NAME": "sfp server",
    "GIT_COMMITTER_EMAIL": "sfp-server@localhost",
}


class RepositoryError(RuntimeError):
    """The repository or ref cannot be used. Says which and why; never holds a token."""

    non_retryable = True

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), self.args)


@dataclass(frozen=True)
class Checkout:
    url: str
    ref: str
    commit: str
    path: Path


def check_url(url: str) -> str:
    """The URL if it is one we clone; RepositoryError naming the problem otherwise."""
    if not isinstance(url, str) or not url.strip() or url.startswith("-") or any(c.isspace() for c in url):
        raise RepositoryError(f"repository URL {url!r} is not a URL")
    if SCP_LIKE.match(url):
        return url
    parts = urlsplit(url)
    if parts.scheme not in ("file", "ssh", "https"):
        raise RepositoryError(f"repository URL {_shown(url)!r}: only file://, ssh:// and https:// URLs are cloned")
    if parts.password is not None or (parts.scheme == "https" and parts.username):
        raise RepositoryError(
            f"repository URL {_shown(url)!r} carries credentials; store the token in the vault and name it instead"
        )
    if parts.scheme != "file" and not parts.hostname:
        raise RepositoryError(f"repository URL {_shown(url)!r} has no host")
    if parts.scheme == "file":
        _check_local(url)
    return url


def _check_local(url: str) -> None:
    """A file:// URL must name a path under SFP_FILE_REPOSITORY_ROOT (after resolving symlinks and `..`)."""
    root = str(settings.SFP_FILE_REPOSITORY_ROOT)
    if not root:
        raise RepositoryError(
            f"repository URL {url!r}: file:// repositories are not allowed here (SFP_FILE_REPOSITORY_ROOT is unset)"
        )
    parts = urlsplit(url)
    path = Path(os.path.realpath(unquote(parts.path)))
    if parts.netloc not in ("", "localhost") or not path.is_relative_to(os.path.realpath(root)):
        raise RepositoryError(f"repository URL {url!r}: file:// repositories are allowed only under {root}")


def uses_https(url: str) -> bool:
    return not SCP_LIKE.match(url) and urlsplit(url).scheme == "https"


def check_ref(ref: str) -> str:
    if not isinstance(ref, str) or not REF.match(ref) or ".." in ref:
        raise RepositoryError(f"git ref {ref!r} is not a valid branch, tag or commit name")
    return ref


def _shown(url: str) -> str:
    """The URL without any userinfo, for error messages."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    return parts._replace(netloc=parts.hostname or "").geturl()


def git_env(
    workspace: Workspace, *, token: str | None = None, ssh_key: Path | None = None, url: str | None = None
) -> dict[str, str]:
    """The environment of a git process; `token` is offered only to the https host of `url`."""
    env = {name: os.environ[name] for name in ("PATH", "LANG", "TZ") if name in os.environ}
    env.update(IDENTITY)
    env.update(
        {
            "HOME": str(workspace.home),
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_ALLOW_PROTOCOL": "file:ssh:https",
            "GCM_INTERACTIVE": "never",
        }
    )
    ssh = "ssh -o BatchMode=yes -o StrictHostKeyChecking=accept-new"
    if ssh_key is not None:
        ssh += f" -i {ssh_key} -o IdentitiesOnly=yes"
    env["GIT_SSH_COMMAND"] = ssh
    if token and url and uses_https(url):
        env.update({"SFP_GIT_TOKEN": token, **token_helper_config(url)})
    return env


def token_helper_config(url: str) -> dict[str, str]:
    """GIT_CONFIG_* variables: no helper at all, except the token helper for this URL's https host."""
    parts = urlsplit(url)
    return {
        "GIT_CONFIG_COUNT": "2",
        "GIT_CONFIG_KEY_0": "credential.helper",
        "GIT_CONFIG_VALUE_0": "",
        "GIT_CONFIG_KEY_1": f"credential.https://{parts.netloc}.helper",
        "GIT_CONFIG_VALUE_1": TOKEN_HELPER,
    }


def checkout(
    workspace: Workspace, url: str, ref: str, *, token: str | None = None, ssh_key: str | None = None
) -> Checkout:
    """Clone `url` into workspace.repo and check `ref` out; the commit it resolved to."""
    check_url(url)
    check_ref(ref)
    key_path = workspace.private_file("ssh_key", ssh_key.rstrip("\n") + "\n") if ssh_key else None
    env = git_env(workspace, token=token, ssh_key=key_path, url=url)
    cache = mirror_path(url)
    borrow = ["--reference-if-able", str(cache), "--dissociate"] if cache.is_dir() else []
    clone = ["clone", "--quiet", "--no-checkout", *borrow, "--", url, str(workspace.repo)]
    _git(clone, env, None, f"cannot clone {_shown(url)}")  # the worker's: it reads the mirrors; nothing ran here yet
    workspace.hand_over()
    as_cli = workspace.spawn_options()  # from here on the repository is the CLI's: git runs as the CLI's user
    what = f"ref {ref!r} does not exist in {_shown(url)}"
    _git(["checkout", "--quiet", ref, "--"], env, workspace.repo, what, as_cli)
    commit = _git(["rev-parse", "HEAD"], env, workspace.repo, "cannot read the checked-out commit", as_cli).strip()
    return Checkout(url, ref, commit, workspace.repo)


def mirror_path(url: str) -> Path:
    """Where the cache refresh keeps a mirror of `url` (checkouts borrow its objects, then dissociate)."""
    return Path(settings.SFP_WORK_DIR) / "cache" / f"{hashlib.sha256(url.encode()).hexdigest()[:24]}.git"


def mirror(workspace: Workspace, url: str, *, token: str | None = None, ssh_key: str | None = None) -> Path:
    """Create or update the mirror of `url`."""
    check_url(url)
    key_path = workspace.private_file("ssh_key", ssh_key.rstrip("\n") + "\n") if ssh_key else None
    env = git_env(workspace, token=token, ssh_key=key_path, url=url)
    path = mirror_path(url)
    if path.is_dir():
        _git(["remote", "update", "--prune"], env, path, f"cannot update the mirror of {_shown(url)}")
    else:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        path.parent.chmod(0o700)  # no CLI user reads the mirrors (of other steps' repositories)
        _git(["clone", "--quiet", "--mirror", "--", url, str(path)], env, None, f"cannot mirror {_shown(url)}")
    return path


def run_git(args: list[str], workspace: Workspace, cwd: Path, env: Mapping[str, str] | None = None) -> str:
    """git in the workspace, as the CLI's user: the CLI may have rewritten .git/config (hooks, fsmonitor)."""
    env = {**git_env(workspace), **(env or {})}
    return _git(args, env, cwd, f"git {args[0]} failed", workspace.spawn_options())


def _git(
    args: list[str], env: Mapping[str, str], cwd: Path | None, what: str, as_user: Mapping[str, Any] | None = None
) -> str:
    try:
        done = subprocess.run(
            ["git", *args],
            cwd=cwd,
            env=dict(env),
            capture_output=True,
            text=True,
            timeout=CLONE_TIMEOUT,
            stdin=subprocess.DEVNULL,
            check=False,
            **(as_user or {}),
        )
    except subprocess.TimeoutExpired:
        raise RepositoryError(f"{what}: git did not finish within {CLONE_TIMEOUT}s") from None
    if done.returncode != 0:
        reason = _reason(done.stderr)
        raise RepositoryError(f"{what}: {reason}" if reason else what)
    return done.stdout


def _reason(stderr: str) -> str:
    lines = [line.strip() for line in stderr.splitlines() if line.strip() and not line.startswith("hint:")]
    fatal = [
        line.removeprefix("fatal: ").removeprefix("error: ") for line in lines if line.startswith(("fatal:", "error:"))
    ]
    return "; ".join(fatal or lines[-1:])[:500]
