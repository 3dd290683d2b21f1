"""A platform process is not dumpable: no process of the same uid (the sfp CLI when the worker is not root,
and the package scripts it runs) can read its /proc/<pid>/environ, mem or fds, nor ptrace it; /proc/<pid>/*
files become root's. The flag resets on execve, so the programs a worker starts are dumpable again (a child
cannot inherit it): the CLI is kept from the worker, not from itself.

Stdlib only and no Django, so an entry point can call it before anything else is loaded.
"""

from __future__ import annotations

import ctypes
import logging
import sys

logger = logging.getLogger(__name__)

PR_SET_DUMPABLE = 4
PR_GET_DUMPABLE = 3


def forbid_dumps() -> bool:
    """Mark this process non-dumpable (Linux); whether it now is."""
    if not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    if libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0:
        logger.warning("could not mark the process non-dumpable", extra={"errno": ctypes.get_errno()})
        return False
    return bool(libc.prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) == 0)
