"""One scrape of /metrics: the families gathered so far and the queue names seen along the way."""

from __future__ import annotations

from dataclasses import dataclass, field

from sfpserver.monitoring.exposition import Family


@dataclass
class Scrape:
    families: dict[str, Family] = field(default_factory=dict)
    queues: set[str] = field(default_factory=set)  # every queue a worker serves or a step waits in

    def family(self, name: str, type_: str, help_: str) -> Family:
        if name not in self.families:
            self.families[name] = Family(name, type_, help_)
        return self.families[name]

    def gauge(self, name: str, help_: str) -> Family:
        return self.family(name, "gauge", help_)

    def histogram(self, name: str, help_: str) -> Family:
        return self.family(name, "histogram", help_)
