"""Mapping how an sfp command ended to an outcome (reference/sfp-domain.md §5.5).

The exit code alone is not enough (upstream bugs #949, sfp#189): it is paired with what the command wrote.
- 0 is success, except when buildResult.json counts failed packages or an install summary counts errors;
- `pool prepare` exits 0 for MaxCapacity / NoCapacity: nothing to do;
- build with nothing to build prints `No packages found to be built`: nothing to do;
- 2 is oclif's usage error (a missing or bad flag) and 78 is sfp-pro's "codev requires a signed-in codev
  app": retrying cannot help;
- an org that is not authorised (`NamedOrgNotFoundError`) cannot be fixed by a retry either;
- any other non-zero code is a failure worth a retry (Salesforce timeouts, UNABLE_TO_LOCK_ROW, ...);
- a negative code means the process was killed by a signal (we stopped it).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

SUCCEEDED, FAILED, NOTHING_TO_DO, INTERRUPTED = "succeeded", "failed", "nothing_to_do", "interrupted"
USAGE_ERROR = 2
CODEV_SIGNED_OUT = 78
_INSTALL_SUMMARY = re.compile(r"artifacts installed in .* with \{?(?P<errors>\d+)\}? errors")
_NOT_AUTHORISED = ("NamedOrgNotFoundError", "No authorization information found")
_NO_CAPACITY = ("MaxCapacity", "NoCapacity")


@dataclass(frozen=True)
class Outcome:
    status: str
    reason: str = ""
    retryable: bool = True

    @property
    def ok(self) -> bool:
        return self.status in (SUCCEEDED, NOTHING_TO_DO)


def decide(command: str, exit_code: int, lines: Sequence[str], build_result: dict[str, Any] | None) -> Outcome:
    if exit_code < 0:
        return Outcome(INTERRUPTED, f"stopped by signal {-exit_code}", retryable=False)
    text = "\n".join(lines)
    if any(marker in text for marker in _NOT_AUTHORISED):
        return Outcome(FAILED, "the org is not authorised for this command", retryable=False)
    if exit_code == USAGE_ERROR:
        return Outcome(FAILED, "the command line was refused (usage error)", retryable=False)
    if exit_code == CODEV_SIGNED_OUT:
        return Outcome(FAILED, "sfp-pro requires a signed-in codev app (exit code 78)", retryable=False)
    if exit_code != 0:
        return Outcome(FAILED, f"exit code {exit_code}")
    return _zero_exit(command, text, build_result)


def _zero_exit(command: str, text: str, build_result: dict[str, Any] | None) -> Outcome:
    if command == "pool prepare" and any(marker in text for marker in _NO_CAPACITY):
        return Outcome(NOTHING_TO_DO, "the pool is at capacity")
    if command in ("build", "quickbuild") and "No packages found to be built" in text:
        return Outcome(NOTHING_TO_DO, "no package changed")
    failed = _failed_packages(build_result)
    if failed:
        return Outcome(FAILED, f"{failed} package(s) failed to build (buildResult.json)")
    summary = _INSTALL_SUMMARY.search(text)
    if summary and int(summary["errors"]) > 0:
        return Outcome(FAILED, f"{summary['errors']} artifact(s) failed to install")
    return Outcome(SUCCEEDED)


def _failed_packages(build_result: dict[str, Any] | None) -> int:
    summary = (build_result or {}).get("summary") or {}
    failed = summary.get("failed") if isinstance(summary, dict) else None
    return int(failed) if isinstance(failed, (int, float)) else 0
