"""A fresh, private working directory per step attempt, removed when the step ends however it ends.

    with workspace("install") as ws:   # ws.repo (checkout), ws.home (HOME of the CLI), ws.tmp (TMPDIR)
        ws.private_file("auth.json", data)

Every run deletes `./.sfp` at start (sfp-domain §5.4), so concurrent commands never share a directory. Files
that hold secrets are created 0600 inside the 0700 workspace and disappear with it. A workspace left behind
by a worker that was killed is pruned by the cache refresh workflow (`prune_stale`).

When the CLI runs as a user of its own (tasks/sfp/sandbox.py), the workspace's root is the worker's (0711)
and holds `home`, `tmp` and `repo` (0700, the step's CLI user's) and `private` (0711, the worker's, whose
files are 0600 and the CLI user's): the CLI can neither rename nor replace what the worker writes there. The
folder of workspaces is 0711, so no CLI user lists the others' names.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings

from tasks.sfp import sandbox
from tasks.sfp.sandbox import CliUser, SandboxError

logger = logging.getLogger(__name__)

PREFIX = "step-"
# git as the CLI's user may use the worker's repositories (a file:// origin, the mirrors): those are trusted.
# Twice, because sfp runs `git config --global safe.directory <repo>`, which would replace a single value.
SAFE_DIRECTORIES = "[safe]\n\tdirectory = *\n\tdirectory = *\n"


@dataclass(frozen=True)
class Workspace:
    root: Path
    owner: CliUser | None = None  # the user the CLI runs as; None: the worker's own

    @property
    def repo(self) -> Path:
        return self.root / "repo"

    @property
    def home(self) -> Path:
        return self.root / "home"

    @property
    def tmp(self) -> Path:
        return self.root / "tmp"

    def spawn_options(self) -> dict[str, Any]:
        """subprocess keywords that start a program in this workspace as the CLI's user."""
        return self.owner.spawn_options() if self.owner else {}

    def private_file(self, name: str, content: str) -> Path:
        """A file only the CLI's user can read, inside the workspace (never inside the checkout)."""
        path = self.root / "private" / name
        path.parent.mkdir(mode=0o700, exist_ok=True)
        if self.owner is not None:
            path.parent.chmod(0o711)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        if self.owner is not None:
            os.fchown(fd, self.owner.uid, self.owner.gid)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(content)
        return path

    def hand_over(self) -> None:
        """Give what the worker wrote into home, tmp and repo (a checkout) to the CLI's user."""
        for path in (self.home, self.tmp, self.repo):
            sandbox.give(path, self.owner)


@contextmanager
def workspace(label: str) -> Iterator[Workspace]:
    base = work_dir()
    with sandbox.lease(base) as owner:
        root = Path(tempfile.mkdtemp(prefix=f"{PREFIX}{_safe(label)}-", dir=base))  # mode 0700
        ws = Workspace(root, owner)
        try:
            _lay_out(ws)
            yield ws
        finally:
            sandbox.kill_all(owner)
            shutil.rmtree(root, ignore_errors=True)


def _lay_out(ws: Workspace) -> None:
    for path in (ws.home, ws.tmp, ws.repo):
        path.mkdir(mode=0o700)
    if ws.owner is not None:
        ws.root.chmod(0o711)
        (ws.home / ".gitconfig").write_text(SAFE_DIRECTORIES, encoding="utf-8")
        ws.hand_over()


def work_dir() -> Path:
    """The folder of workspaces: SFP_WORK_DIR; when the CLI runs as users of its own and they cannot pass
    through SFP_WORK_DIR's parents (a project under /root, 0700), a folder of the worker's under /var/tmp."""
    configured = Path(settings.SFP_WORK_DIR)
    if not sandbox.dropping():
        configured.mkdir(parents=True, exist_ok=True)
        return configured
    if not sandbox.searchable_by_anyone(configured):
        digest = hashlib.sha256(str(configured.absolute()).encode()).hexdigest()[:12]
        configured = Path("/var/tmp") / f"sfp-work-{digest}"
    configured.mkdir(mode=0o711, parents=True, exist_ok=True)
    _check_ours(configured)
    configured.chmod(0o711)
    _close_local()
    return configured


def _check_ours(path: Path) -> None:
    st = path.lstat()
    if not os.path.isdir(path) or path.is_symlink() or st.st_uid != os.geteuid():
        raise SandboxError(f"the workspace folder {path} is not a folder of this worker's user: set SFP_WORK_DIR")


def _close_local() -> None:
    """No CLI user lists the project's .local (the vault key is 0600 anyway); the CLI installed under it,
    and the workspaces when they live there, stay reachable through it."""
    local = Path(settings.BASE_DIR) / ".local"
    try:
        st = local.stat()
    except FileNotFoundError:
        return
    if st.st_uid == os.geteuid() and st.st_mode & 0o044:
        local.chmod(st.st_mode & 0o7711)


def _safe(label: str) -> str:
    return "".join(char if char.isalnum() or char in "-_" else "-" for char in label)[:40]


def prune_stale(max_age_hours: float | None = None) -> list[str]:
    """Remove workspaces older than `max_age_hours` (left by killed workers); the names removed."""
    base = work_dir()
    limit = time.time() - 3600 * (max_age_hours if max_age_hours is not None else settings.SFP_STALE_WORKSPACE_HOURS)
    removed = []
    for path in base.glob(f"{PREFIX}*") if base.exists() else []:
        try:
            if path.is_dir() and path.stat().st_mtime < limit:
                shutil.rmtree(path, ignore_errors=True)
                removed.append(path.name)
        except FileNotFoundError:
            continue
    return removed
