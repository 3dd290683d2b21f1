"""Secrets generated once for local use (`make run`, the test suite, the bench) and kept in files of mode 0600
under `.local/<profile>/`: the embedded servers' passwords, the Django secret key and Flower's login.

A file, once written, is reused by every later start; deleting it makes the next start generate (and, for the
servers, set) a new one. The values are never printed or logged; only their paths are.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from config.env import SettingError


def read_secret(path: Path) -> str | None:
    """The secret stored at `path`, or None when there is none yet."""
    try:
        value = path.read_text().strip()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise SettingError(f"cannot read {path}: {exc.strerror}") from None
    return value or None


def stored_secret(path: Path, nbytes: int = 32, shape: str = "{}") -> str:
    """The secret stored at `path`; if missing, `shape` filled with a new URL-safe token of `nbytes` random
    bytes is written there (mode 0600) first."""
    existing = read_secret(path)
    if existing is not None:
        return existing
    path.parent.mkdir(parents=True, exist_ok=True)
    draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(shape.format(secrets.token_urlsafe(nbytes)) + "\n")
    try:
        os.link(draft, path)  # atomic, and refuses to replace: of two starts at once, the first one wins
    except FileExistsError:
        pass
    finally:
        draft.unlink()
    value = read_secret(path)
    assert value is not None
    return value
