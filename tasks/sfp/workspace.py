"""A fresh, private working directory per step attempt, removed when the step ends however it ends.

    with workspace("install") as ws:   # ws.repo (checkout), ws.home (HOME of the CLI), ws.tmp (TMPDIR)
        ws.private_file("auth.json", data)

Every run deletes `./.sfp` at start (sfp-domain §5.4), so concurrent commands never share a directory. Files
that hold secrets are created 0600 inside the 0700 workspace and disappear with it. A workspace left behind
by a worker that was killed is pruned by the cache refresh workflow (`prune_stale`).
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

logger = logging.getLogger(__name__)

PREFIX = "step-"


@dataclass(frozen=True)
class Workspace:
    root: Path

    @property
    def repo(self) -> Path:
        return self.root / "repo"

    @property
    def home(self) -> Path:
        return self.root / "home"

    @property
    def tmp(self) -> Path:
        return self.root / "tmp"

    def private_file(self, name: str, content: str) -> Path:
        """A file only this user can read, inside the workspace (never inside the checkout)."""
        path = self.root / "private" / name
        path.parent.mkdir(mode=0o700, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(content)
        return path


@contextmanager
def workspace(label: str) -> Iterator[Workspace]:
    base = Path(settings.SFP_WORK_DIR)
    base.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix=f"{PREFIX}{_safe(label)}-", dir=base))  # mode 0700
    ws = Workspace(root)
    for path in (ws.home, ws.tmp):
        path.mkdir(mode=0o700)
    try:
        yield ws
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _safe(label: str) -> str:
    return "".join(char if char.isalnum() or char in "-_" else "-" for char in label)[:40]


def prune_stale(max_age_hours: float | None = None) -> list[str]:
    """Remove workspaces older than `max_age_hours` (left by killed workers); the names removed."""
    base = Path(settings.SFP_WORK_DIR)
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
