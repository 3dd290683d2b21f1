"""The scheduler's cron check: one `cron.fire_due` pass (what every scheduler tick runs) with N crons
registered and none of them due, at 2,000 and 20,000 crons.

    python -m bench.cron_tick [--crons 2000,20000] [--ticks 20]

Run alone, it starts its own embedded Postgres and Redis (ports 54359 / 63829, data under .local/bench-cron)
unless DATABASE_URL / REDIS_URL are set; `make bench` runs it on the bench's database. The crons are
django-celery-beat entries like any other (kept between runs), each firing once a year in next month, so no
pass fires one: the figure is the cost of finding nothing due. Beside it, the resync that the scheduler runs
every 30 s (crons changed without a save) over the same crons. It prints figures and asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PG_PORT, REDIS_PORT = 54359, 63829
PREFIX = "bench-cron-"
COUNTS = (2_000, 20_000)
TICKS = 20
INDENT = " " * 26


def ensure(count: int) -> None:
    """`count` bench crons exist (created in bulk, as an import would, and synced as the scheduler syncs)."""
    from django.db import transaction
    from django.utils import timezone
    from django_celery_beat.models import CrontabSchedule, PeriodicTask

    from sfpserver.engine import cron

    bench = PeriodicTask.objects.filter(name__startswith=PREFIX)
    extra = [pk for pk, name in bench.values_list("id", "name") if int(name.removeprefix(PREFIX)) >= count]
    PeriodicTask.objects.filter(id__in=extra).delete()
    have = bench.count()
    month = timezone.now().month % 12 + 1  # next month: never due while the bench runs
    with transaction.atomic():
        crontabs = CrontabSchedule.objects.bulk_create(
            CrontabSchedule(
                minute=str(i % 60),
                hour=str(i // 60 % 24),
                day_of_month=str(1 + i // 1440 % 28),
                month_of_year=str(month),
                day_of_week="*",
                timezone="UTC",
            )
            for i in range(have, count)
        )
        kwargs = json.dumps({"workflow": "bench.never", "input": None, "metadata": {}, "priority": None})
        PeriodicTask.objects.bulk_create(
            PeriodicTask(name=f"{PREFIX}{have + n}", task=cron.CRON_TASK, crontab=c, kwargs=kwargs)
            for n, c in enumerate(crontabs)
        )
    cron.sync_changed()


@dataclass
class Figures:
    crons: int
    ticks: list[float]  # seconds of each fire_due pass
    resyncs: list[float]  # seconds of each sync_changed pass (the scheduler runs one every RESYNC_EVERY)


def _timed(job: Callable[[], int], times: int) -> list[float]:
    job()  # warm: connection, plans
    seconds = []
    for _ in range(times):
        started = time.perf_counter()
        done = job()
        seconds.append(time.perf_counter() - started)
        assert done == 0, f"{job.__name__} did something ({done}) where nothing was due"
    return seconds


def measure(count: int, ticks: int) -> Figures:
    from sfpserver.engine import cron

    ensure(count)
    return Figures(count, _timed(cron.fire_due, ticks), _timed(cron.sync_changed, max(3, ticks // 4)))


def _ms(seconds: list[float]) -> str:
    return f"p50 {statistics.median(seconds) * 1000:8.2f} ms   max {max(seconds) * 1000:8.2f} ms"


def report(figures: Sequence[Figures]) -> None:
    print()
    print("scheduler cron check (cron.fire_due: one scheduler tick's pass, none due)")
    for f in figures:
        print(f"  {f.crons:6d} crons            {_ms(f.ticks)}   ({len(f.ticks)} ticks)")
    if len(figures) > 1:
        small, big = figures[0], figures[-1]
        ratio = statistics.median(big.ticks) / statistics.median(small.ticks)
        print(f"{INDENT}{big.crons / small.crons:g}x the crons: {ratio:.1f}x the time per tick")
    print(f"{INDENT}before next_fire_at (every cron evaluated each tick): 261 ms at 2000, 2755 ms at 20000")
    print("  resync (crons changed without a save; once every 30 s, not every tick)")
    for f in figures:
        print(f"  {f.crons:6d} crons            {_ms(f.resyncs)}   ({len(f.resyncs)} passes)")


def run(counts: Sequence[int] = COUNTS, ticks: int = TICKS) -> list[Figures]:
    return [measure(count, ticks) for count in sorted(counts)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cron_tick", description=__doc__.splitlines()[0])
    parser.add_argument("--crons", default=",".join(map(str, COUNTS)), help="comma-separated cron counts")
    parser.add_argument("--ticks", type=int, default=TICKS)
    options = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    from config.embedded import ensure_services

    services = ensure_services("bench-cron", PG_PORT, REDIS_PORT)
    try:
        import django
        from django.core.management import call_command

        django.setup()
        call_command("migrate", verbosity=0, interactive=False)
        report(run([int(n) for n in options.crons.split(",")], options.ticks))
    finally:
        services.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
