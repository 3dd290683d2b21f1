"""The bench: plain Celery vs the durable engine on the same broker, worker pool and concurrency.

Order: plain Celery throughput; then one durable worker node for trigger-to-start latency, chain hand-off
latency, durable throughput with Postgres's commit count, and an idle interval of the same length (what the
heartbeat alone commits). Last (not with --only-best), the API's trigger latency under 50 concurrent clients
(bench/api_latency.py, in a process of its own). Everything it starts is stopped at the end.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from dataclasses import dataclass

BENCH_PG_PORT = 54351
BENCH_REDIS_PORT = 63821
STATS_SETTLE_SECONDS = 11.0  # > PGSTAT_IDLE_INTERVAL (10 s): every idle backend has published its counts


@dataclass
class Options:
    runs: int
    concurrency: int
    triggers: int
    chains: int
    settle: float
    rounds: int = 3
    only_best: bool = False


def parse(argv: list[str] | None) -> Options:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--runs", type=int, default=2000, help="N: plain messages and durable runs (default 2000)")
    parser.add_argument("--concurrency", type=int, default=2, help="worker threads of each node (default 2)")
    parser.add_argument("--triggers", type=int, default=200, help="sequential triggers for trigger-to-start latency")
    parser.add_argument("--chains", type=int, default=20, help="10-step chains for hand-off latency")
    parser.add_argument("--rounds", type=int, default=3, help="throughput rounds, plain then durable (default 3)")
    parser.add_argument("--only-best", action="store_true", help="only each side at its best (bench/best.py)")
    parser.add_argument("--settle", type=float, default=STATS_SETTLE_SECONDS, help=argparse.SUPPRESS)
    ns = parser.parse_args(argv)
    if ns.rounds < 1:
        parser.error("--rounds: must be at least 1")
    return Options(ns.runs, ns.concurrency, ns.triggers, ns.chains, ns.settle, ns.rounds, ns.only_best)


def main(argv: list[str] | None = None) -> int:
    options = parse(argv)
    from config.embedded import ensure_services

    services = ensure_services("bench", BENCH_PG_PORT, BENCH_REDIS_PORT)
    os.environ["ENGINE_WORKFLOW_MODULES"] = "bench.workflows"
    # No scheduler runs in the bench (the runs need none), and no node stands in for it: its ticks would be load and
    # commits of their own, and the figures say "no scheduler running".
    os.environ["ENGINE_STANDBY_LEADER"] = "false"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    try:
        _setup_django()
        from bench import phases

        if options.only_best:
            phases.run_best(options)
        else:
            phases.run_all(options, services.postgres.pgdata if services.postgres else None)
    finally:
        services.stop()
    if not options.only_best:
        _api_latency()
    return 0


def _api_latency() -> None:
    """bench/api_latency.py with its defaults (50 clients), in a process of its own: its own Postgres, Redis and API
    processes, serving the platform's workflows (not this bench's)."""
    env = {k: v for k, v in os.environ.items() if k not in ("ENGINE_WORKFLOW_MODULES", "ENGINE_STANDBY_LEADER")}
    print(flush=True)
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "api_latency.py")
    subprocess.run([sys.executable, script], env=env, check=False)


def _setup_django() -> None:
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0, interactive=False)
