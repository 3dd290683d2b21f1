"""Who the sfp CLI runs as, so that it can read neither the worker that starts it nor another step.

When the worker runs as root, each workspace leases a slot user `<SFP_CLI_USER>-<n>` (created with useradd
when missing) that no other step on this host holds at the same time: an exclusive lock on
`<work dir>/.slots/<n>.lock` (root only) is held for the workspace's life. Every process started in the
workspace after the checkout (the CLI, the package scripts it runs, git) runs under that uid, in no
supplementary group, with umask 077. Being another uid, it cannot read the worker's /proc entries (environ,
memory, fds) nor any root-only file (vault key, secret files, other workspaces). Every process of that uid is
killed after each command and when the slot is taken and given back, so nothing of one step outlives it.

Why a uid per step and not one shared CLI user: processes of one uid read each other's /proc/<pid>/environ and
cwd, so one step's CLI would see the credentials injected into a concurrent step's CLI and find its workspace.

When the worker is not root, or SFP_CLI_USER is empty, the CLI runs as the worker's uid: isolation then rests
on the worker being non-dumpable and on the CLI's allow-listed environment (README, Security model).
"""

from __future__ import annotations

import fcntl
import logging
import os
import pwd
import shutil
import signal
import stat
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings

logger = logging.getLogger(__name__)

USERADD_TRIES = 5  # useradd gives up when another useradd holds /etc/passwd's lock: try again


class SandboxError(RuntimeError):
    """The CLI cannot be given a user of its own; the message says which setting or path to fix."""

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.non_retryable = not retryable

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (str(self), not self.non_retryable))


def _rebuild(message: str, retryable: bool) -> SandboxError:
    return SandboxError(message, retryable=retryable)


@dataclass(frozen=True)
class CliUser:
    name: str
    uid: int
    gid: int

    def spawn_options(self) -> dict[str, Any]:
        """subprocess.Popen keywords that start a program as this user and nothing more."""
        return {"user": self.uid, "group": self.gid, "extra_groups": [], "umask": 0o077}


def dropping() -> bool:
    """Whether the CLI runs as a user of its own (the worker is root and SFP_CLI_USER is set)."""
    return os.geteuid() == 0 and bool(settings.SFP_CLI_USER)


@contextmanager
def lease(base: Path) -> Iterator[CliUser | None]:
    """A slot user held for the block (None when not dropping); its processes die on entry and on exit."""
    if not dropping():
        yield None
        return
    fd, user = _take_slot(base)
    try:
        kill_all(user)
        yield user
    finally:
        kill_all(user)
        os.close(fd)


def _take_slot(base: Path) -> tuple[int, CliUser]:
    locks = base / ".slots"
    locks.mkdir(mode=0o700, exist_ok=True)
    for index in range(settings.SFP_CLI_USERS_MAX):
        fd = os.open(locks / f"{index}.lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        try:
            return fd, ensure_user(f"{settings.SFP_CLI_USER}-{index}")
        except BaseException:
            os.close(fd)
            raise
    raise SandboxError(
        f"all {settings.SFP_CLI_USERS_MAX} CLI users are busy on this host (SFP_CLI_USERS_MAX)", retryable=True
    )


def ensure_user(name: str) -> CliUser:
    """The system user `name`, created (no home, no login shell, its own group) when missing."""
    reason = ""
    for attempt in range(USERADD_TRIES):
        try:
            entry = pwd.getpwnam(name)
            return CliUser(name, entry.pw_uid, entry.pw_gid)
        except KeyError:
            pass
        done = subprocess.run(
            ["useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin",
             "--user-group", name],
            capture_output=True,
            text=True,
            check=False,
        )  # fmt: skip
        reason = done.stderr.strip() or f"useradd exited with {done.returncode}"
        if done.returncode not in (0, 1, 9, 10):  # 1, 10: passwd/group file locked; 9: created meanwhile
            break
        time.sleep(0.05 * (attempt + 1))
    raise SandboxError(f"cannot create the CLI user {name}: {reason}")


def kill_all(user: CliUser | None) -> None:
    """SIGKILL every process of the user (kill(-1) from a child already switched to that uid)."""
    if user is None:
        return
    true = shutil.which("true") or "/bin/true"
    subprocess.run([true], preexec_fn=_kill_everything_i_may, check=False, **user.spawn_options())


def _kill_everything_i_may() -> None:
    os.kill(-1, signal.SIGKILL)  # Linux spares the caller itself


def give(path: Path, user: CliUser | None) -> None:
    """Make `path` and everything under it the user's, without following a symbolic link anywhere."""
    if user is None:
        return
    os.chown(path, user.uid, user.gid, follow_symlinks=False)
    for _top, dirs, files, dir_fd in os.fwalk(path, follow_symlinks=False):
        for name in dirs + files:
            os.chown(name, user.uid, user.gid, dir_fd=dir_fd, follow_symlinks=False)


def reachable(path: Path, user: CliUser, *, execute: bool = False) -> bool:
    """Whether the user can reach `path` (search every directory on the way, as written and as resolved) and
    read it, or execute it when `execute` is set. Mode bits only: the user has no supplementary group."""
    try:
        chains = {path.absolute(), path.resolve(strict=True)}
        for target in chains:
            for directory in reversed(target.parents):
                if not _may(directory.stat(), user, 0o1):
                    return False
        return all(_may(target.stat(), user, 0o1 if execute else 0o4) for target in chains)
    except OSError:
        return False


def _may(st: os.stat_result, user: CliUser, bit: int) -> bool:
    if st.st_uid == user.uid:
        return bool(st.st_mode & (bit << 6))
    if st.st_gid == user.gid:
        return bool(st.st_mode & (bit << 3))
    return bool(st.st_mode & bit)


def searchable_by_anyone(path: Path) -> bool:
    """Whether any user can pass through every existing directory on the way to `path`."""
    target = path.absolute()
    for directory in [*reversed(target.parents), target]:
        try:
            mode = directory.stat().st_mode
        except FileNotFoundError:
            return True  # created by us below, with a mode we choose
        if stat.S_ISDIR(mode) and not mode & 0o001:
            return False
    return True
