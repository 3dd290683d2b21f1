"""Turning what the sfp CLI prints and writes into progress percentages and structured results.

Sources (reference/sfp-domain.md §5.3-§5.4):
- output lines: `Installing: 2/5  core` / `Validating/Synchronizing: 2/5  core` group titles and the
  per-deploy `Status: InProgress Progress: 12/40` lines;
- `.sfpowerscripts/logs/metrics.log`: NDJSON events such as `sfpowerscripts.build.scheduled.packages`
  (one count per package to build) and `build.succeeded.packages` / `build.failed.packages` /
  `package.installation.elapsed_time` (one per package done);
- `buildResult.json` at the end of build / quickbuild.

Pure functions and small classes, no Django: unit-testable on captured output.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
STATUS = re.compile(r"Status:\s*(?P<status>\S+)\s+Progress:\s*(?P<done>\d+)\s*/\s*(?P<total>\d+)")
GROUP = re.compile(
    r"(?:Installing|Validating/Synchronizing|Validating|Synchronizing):\s*(?P<index>\d+)\s*/\s*(?P<count>\d+)\s+(?P<package>\S+)"
)
METRICS_LOG = Path(".sfpowerscripts") / "logs" / "metrics.log"
BUILD_RESULT = "buildResult.json"

_SCHEDULED = {"sfpowerscripts.build.scheduled.packages"}
_DONE = {
    "sfpowerscripts.build.succeeded.packages",
    "sfpowerscripts.build.failed.packages",
    "sfpowerscripts.package.installation.elapsed_time",
}


def clean(line: str) -> str:
    """The line without ANSI colour codes and trailing whitespace."""
    return ANSI.sub("", line).rstrip()


@dataclass
class ProgressTracker:
    """Keeps the best estimate of how far a command is; `percent` never goes backwards."""

    package_index: int = 0
    package_count: int = 0
    package: str = ""
    inner: float = 0.0  # fraction of the current package deployed (Status lines)
    scheduled: int = 0
    done: int = 0
    percent: float = 0.0
    message: str = ""

    def feed_line(self, line: str) -> bool:
        """Take one output line; True when the percentage moved."""
        group = GROUP.search(line)
        if group:
            self.package_index, self.package_count = int(group["index"]), int(group["count"])
            self.package, self.inner = group["package"], 0.0
            return self._update(f"{self.package} ({self.package_index}/{self.package_count})")
        status = STATUS.search(line)
        if status and int(status["total"]) > 0:
            self.inner = min(1.0, int(status["done"]) / int(status["total"]))
            label = f"{self.package} " if self.package else ""
            return self._update(f"{label}{status['status']} {status['done']}/{status['total']}".strip())
        return False

    def feed_metric(self, event: dict[str, Any]) -> bool:
        """Take one metrics.log event; True when the percentage moved."""
        name = event.get("metric")
        if name in _SCHEDULED:
            self.scheduled += 1
        elif name in _DONE:
            self.done += 1
        else:
            return False
        tags = event.get("tags") or {}
        package = tags.get("package") if isinstance(tags, dict) else None
        return self._update(f"{package or 'package'} done ({self.done}/{self.scheduled or '?'})")

    def _estimate(self) -> float:
        if self.package_count:
            return 100.0 * ((self.package_index - 1) + self.inner) / self.package_count
        if self.scheduled:
            return 100.0 * min(self.done, self.scheduled) / self.scheduled
        return 100.0 * self.inner

    def _update(self, message: str) -> bool:
        estimate = round(min(99.0, self._estimate()), 1)  # 100 only when the command has finished
        if estimate <= self.percent:
            return False
        self.percent, self.message = estimate, message
        return True


@dataclass
class MetricsTail:
    """Reads the NDJSON lines appended to metrics.log since the last call."""

    path: Path
    offset: int = 0
    partial: str = ""
    events: list[dict[str, Any]] = field(default_factory=list)

    def read_new(self) -> list[dict[str, Any]]:
        try:
            with self.path.open("r", encoding="utf-8", errors="replace") as handle:
                handle.seek(self.offset)
                chunk = handle.read()
                self.offset = handle.tell()
        except FileNotFoundError:
            return []
        lines = (self.partial + chunk).split("\n")
        self.partial = lines.pop()
        new = [event for event in map(_json_object, lines) if event is not None]
        self.events.extend(new)
        return new


def _json_object(line: str) -> dict[str, Any] | None:
    try:
        value = json.loads(line)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def read_build_result(directory: Path) -> dict[str, Any] | None:
    """buildResult.json as written by build/quickbuild, or None when absent or unreadable."""
    try:
        value = json.loads((directory / BUILD_RESULT).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def metric_summary(events: list[dict[str, Any]]) -> dict[str, float]:
    """The last value of every gauge and the number of every count/timer event, by metric name."""
    summary: dict[str, float] = {}
    for event in events:
        name = str(event.get("metric", "")).removeprefix("sfpowerscripts.")
        if not name:
            continue
        if event.get("type") == "guage" and isinstance(event.get("value"), (int, float)):
            summary[name] = float(event["value"])
        else:
            summary[name] = summary.get(name, 0.0) + 1
    return summary
