"""Log capture (Hatchet's): what the client's logger (`ClientConfig.logger`, the root logger by default)
writes while a task runs is stored as that task's log lines, beside `ctx.log`'s, and listed by `hatchet.logs`.

A record is captured when it is written in the thread or coroutine of a running task (its context variable is
set); the platform's own records (`sfpserver`, Django, Celery) are not, nor a record written while one is being
stored (the database write's own logging). `ClientConfig(disable_log_capture=True)` turns it off."""

from __future__ import annotations

import logging
import threading

from sfpserver.hatchet.contextvars import current_context
from sfpserver.hatchet.dbsync import run_db

PLATFORM_LOGGERS = ("sfpserver", "django", "celery", "kombu", "amqp", "redis", "asyncio", "urllib3", "config")
_storing = threading.local()


class TaskLogHandler(logging.Handler):
    """Stores each record written inside a running task as one of its log lines."""

    def emit(self, record: logging.LogRecord) -> None:
        if getattr(_storing, "active", False) or record.name.split(".", 1)[0] in PLATFORM_LOGGERS:
            return
        ctx = current_context.get()
        inv = ctx.invocation if ctx is not None else None
        if inv is None:
            return
        _storing.active = True
        try:
            line = self.format(record)
            run_db(lambda: inv.log(line))
        except Exception:  # noqa: BLE001 - a log line that cannot be stored never fails the task
            self.handleError(record)
        finally:
            _storing.active = False


def capture(logger: logging.Logger) -> TaskLogHandler:
    """Attach a capturing handler to `logger` (once) and return it."""
    for handler in logger.handlers:
        if isinstance(handler, TaskLogHandler):
            return handler
    handler = TaskLogHandler()
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger.addHandler(handler)
    return handler
