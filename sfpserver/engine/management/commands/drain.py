"""`python manage.py drain --timeout SECONDS`: stop new steps from starting and wait for running ones.

Exit status 0 when nothing runs any more; 3 when steps still run at the timeout (they are listed, and after a
restart their dead workers' steps are re-queued). The drain stays on either way until `manage.py resume`.
"""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from sfpserver.engine import drain

STILL_RUNNING_EXIT = 3
REPORT_EVERY = 10.0


class Command(BaseCommand):
    help = "Stop new steps from starting anywhere and wait until no step runs (graceful update, step 1)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--timeout", type=float, required=True, help="seconds to wait for running steps")
        parser.add_argument("--poll", type=float, default=1.0, help="seconds between checks (default 1)")

    def handle(self, *args: Any, timeout: float, poll: float, **options: Any) -> None:
        since = drain.start()
        self.stdout.write(f"draining since {since.isoformat()}: new runs are queued, no new step starts")
        deadline = time.monotonic() + max(timeout, 0.0)
        last_report = 0.0
        while running := drain.running_steps():
            if time.monotonic() >= deadline:
                self._report(running, timeout)
                raise CommandError(
                    f"{len(running)} step(s) still running after {timeout:g}s", returncode=STILL_RUNNING_EXIT
                )
            if time.monotonic() - last_report >= REPORT_EVERY:
                self.stdout.write(f"waiting for {len(running)} running step(s)")
                last_report = time.monotonic()
            time.sleep(min(poll, max(deadline - time.monotonic(), 0.0)))
        self.stdout.write(self.style.SUCCESS("drained: no step is running"))

    def _report(self, running: list[drain.RunningStep], timeout: float) -> None:
        self.stdout.write(f"still running after {timeout:g}s (re-queued when their workers restart):")
        for step in running:
            self.stdout.write(
                f"  run {step.run_id} ({step.workflow}) step {step.step} attempt {step.attempt}"
                f" on worker {step.worker} (pool {step.pool}) for {step.running_for():.0f}s"
            )
