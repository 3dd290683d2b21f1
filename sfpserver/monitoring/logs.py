"""Log records as JSON lines (for VictoriaLogs) or plain text, and the filter that names the worker.

Loaded by settings.LOGGING before Django's apps are ready: nothing here imports models or settings.

A JSON line holds `timestamp`, `level`, `logger`, `message`, `process`, `process_name`, `thread`, every
`extra=` field of the call (`run_id`, `workflow`, `step`, `step_id`, `attempt`, …), `worker` and `pool`
inside worker processes, and `exception` when there is one. The finished line passes the vault's redactor
once more, so a leased secret is masked in the extra fields too, not only in the message.
"""

from __future__ import annotations

import json
import logging
import logging.config
import sys
from datetime import UTC, datetime
from typing import Any

from sfpserver.vault.redaction import redact_everywhere

_RECORD_FIELDS = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}
CONTEXT_FIELDS = ("run_id", "workflow", "step", "step_id", "attempt", "worker", "pool")


def extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The fields a call passed with `extra=` (and those the filters below added)."""
    return {key: value for key, value in vars(record).items() if key not in _RECORD_FIELDS and not key.startswith("_")}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "process": record.process,
            "process_name": record.processName,
            "thread": record.threadName,
        }
        line.update(extra_fields(record))
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exception"] = record.exc_text
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return redact_everywhere(json.dumps(line, default=str, ensure_ascii=False))


class PlainFormatter(logging.Formatter):
    """`time LEVEL process logger: message [run_id=… step=… attempt=… worker=…]` for people at a terminal."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(processName)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        context = " ".join(f"{key}={getattr(record, key)}" for key in CONTEXT_FIELDS if hasattr(record, key))
        if not context:
            return text
        first, newline, rest = text.partition("\n")
        return f"{first} [{context}]{newline}{rest}"


class WorkerContextFilter(logging.Filter):
    """Adds `worker` and `pool` to every record of a worker process (unless the call passed its own)."""

    def filter(self, record: logging.LogRecord) -> bool:
        module = sys.modules.get("sfpserver.engine.worker")  # loaded only in processes that run steps
        identity = module.identity() if module is not None else None
        if identity is not None:
            if not hasattr(record, "worker"):
                record.worker = identity.name
            if not hasattr(record, "pool"):
                record.pool = identity.pool
        return True


def configure(config: dict[str, Any]) -> None:
    """settings.LOGGING_CONFIG: apply settings.LOGGING, and route Python warnings (a library's
    `warnings.warn`) through it too, so that they become log lines like any other instead of raw stderr."""
    logging.config.dictConfig(config)
    logging.captureWarnings(True)
