"""The Prometheus text exposition format (version 0.0.4), written out by hand: families of samples."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

Labels = Mapping[str, object]


@dataclass
class Family:
    """One metric: its name, type (gauge, counter, histogram), help text and samples."""

    name: str
    type: str
    help: str
    samples: list[tuple[str, dict[str, str], float]] = field(default_factory=list)

    def add(self, value: float, labels: Labels | None = None, suffix: str = "") -> None:
        self.samples.append((self.name + suffix, {k: str(v) for k, v in (labels or {}).items()}, float(value)))

    def add_histogram(self, bounds: Sequence[float], cumulative: Sequence[int], total: float, labels: Labels) -> None:
        """`cumulative[i]` observations were <= bounds[i]; the last element of `cumulative` is the count."""
        for bound, count in zip([*bounds, math.inf], cumulative, strict=True):
            self.add(count, {**labels, "le": format_value(bound)}, "_bucket")
        self.add(total, labels, "_sum")
        self.add(cumulative[-1], labels, "_count")


def render(families: Iterable[Family]) -> str:
    lines: list[str] = []
    for family in families:
        lines.append(f"# HELP {family.name} {_escape_help(family.help)}")
        lines.append(f"# TYPE {family.name} {family.type}")
        lines.extend(f"{name}{_labels(labels)} {format_value(value)}" for name, labels, value in family.samples)
    return "\n".join(lines) + "\n"


def format_value(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if math.isnan(value):
        return "NaN"
    return str(int(value)) if value == int(value) and abs(value) < 1e15 else repr(value)


def _labels(labels: Mapping[str, str]) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{key}="{_escape_label(value)}"' for key, value in labels.items()) + "}"


def _escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")
