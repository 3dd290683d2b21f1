"""Test seam for the group commit's fault tests (tests/engine/test_groupcommit_faults.py): imported, through
ENGINE_WORKFLOW_MODULES, only by the worker process a test means to SIGKILL.

It holds that worker's committer at a batch of several completions, writes what the batch held to a marker file
(JSON: how many requests, the steps whose completion it carries) and waits there until the test kills the worker:

- GC_SEAM_POINT=before-send: before the batch is sent, so its completions are still waiting, uncommitted;
- GC_SEAM_POINT=after-commit: once the batch is committed, before any of its threads returns, so before Celery
  acknowledges any of their messages.

A batch of a single completion (its siblings finished a moment later) is held a moment and then sent, so that
those siblings queue up behind it and the next batch holds several: the test cannot pass on a batch of one.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from sfpserver.engine import groupcommit, statements
from sfpserver.engine.groupcommit import Pipeline

POINT = os.environ.get("GC_SEAM_POINT", "")
MARKER = Path(os.environ.get("GC_SEAM_MARKER", "gc-seam-marker.json"))
GATHER_SECONDS = 0.3  # a lone completion waits this long before it is sent, for its siblings to queue up
COMPLETIONS = (statements.COMPLETE, statements.COMPLETE_ALONE)

_stopped = threading.Event()


def completed_steps(batch: Sequence[Pipeline]) -> list[str]:
    """The steps whose completion the batch carries (a claim's request is not one)."""
    return [str(pipeline[0][1]["step"]) for pipeline in batch if pipeline[0][0] in COMPLETIONS]


def _hold(batch: Sequence[Pipeline]) -> None:
    """Say what the batch holds, then wait to be killed (the first batch of several completions only)."""
    if _stopped.is_set():
        return
    _stopped.set()
    partial = MARKER.with_suffix(".partial")
    partial.write_text(json.dumps({"size": len(batch), "steps": completed_steps(batch)}))
    partial.rename(MARKER)
    threading.Event().wait()  # until SIGKILL


def _before_send(batch: Sequence[Pipeline]) -> None:
    completions = completed_steps(batch)
    if len(completions) == 1 and len(batch) == 1 and not _stopped.is_set():
        time.sleep(GATHER_SECONDS)
    elif len(completions) > 1 and POINT == "before-send":
        _hold(batch)


def _after_commit(batch: Sequence[Pipeline]) -> None:
    if len(completed_steps(batch)) > 1 and POINT == "after-commit":
        _hold(batch)


if POINT in ("before-send", "after-commit"):
    groupcommit._before_send_hook = _before_send
    groupcommit._after_commit_hook = _after_commit
