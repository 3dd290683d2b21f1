"""Printing the figures, with the issue's targets beside them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from bench import machine
from bench.measure import percentile

if TYPE_CHECKING:
    from bench.phases import Commits, Throughput
    from bench.run import Options

TARGET_RATIO = 0.5
TARGET_HANDOFF_P50_MS = 5.0
TARGET_COMMITS_PER_STEP = 4.0


def verdict(met: bool) -> str:
    return "met" if met else "MISSED"


def header(options: Options) -> None:
    print("sfp bench: the durable engine vs plain Celery, same machine, broker, pool and concurrency", flush=True)
    for line in machine.describe():
        print(line)
    print(
        f"workers   one node each, --pool threads --concurrency {options.concurrency} --prefetch-multiplier 1, "
        "acks_late (the project's Celery settings)"
    )
    print(
        f"N         {options.runs} messages / one-step runs; {options.triggers} sequential triggers; "
        f"{options.chains} chains of 10 steps"
    )
    print()
    print("throughput (no-op work)")


def plain(result: Throughput) -> None:
    print(f"  plain Celery task       {result.rate:8.1f} tasks/s  ({result.detail} {result.seconds:.2f}s)", flush=True)
    print(f"                          CPU per task: {_cpu(result)}", flush=True)


def _cpu(result: Throughput) -> str:
    return ", ".join(f"{name} {value:.2f} ms" for name, value in result.cpu.items())


def durable(result: Throughput, baseline: Throughput) -> None:
    ratio = result.rate / baseline.rate
    print(
        f"  durable one-step run    {result.rate:8.1f} runs/s   (trigger_many → last run COMPLETED "
        f"{result.seconds:.2f}s; {result.detail})"
    )
    print(f"                          CPU per run: {_cpu(result)}")
    met = verdict(ratio >= TARGET_RATIO)
    print(f"  ratio durable / plain   {ratio:8.2f}           target >= {TARGET_RATIO:.2f}: {met}")


def _quantiles(values: Sequence[float]) -> str:
    return f"p50 {percentile(values, 50):6.2f} ms   p99 {percentile(values, 99):6.2f} ms"


def latency(starts: Sequence[float], handoffs: Sequence[float], options: Options) -> None:
    print()
    print("latency (Postgres timestamps)")
    print(
        f"  trigger → step start    {_quantiles(starts)}   ({len(starts)} sequential triggers: run created_at → "
        "step started_at)"
    )
    p50 = percentile(handoffs, 50)
    print(
        f"  step → step hand-off    {_quantiles(handoffs)}   ({len(handoffs)} hand-offs in {options.chains} chains: "
        f"started_at - parent finished_at)   target p50 < {TARGET_HANDOFF_P50_MS:.0f} ms: "
        f"{verdict(p50 < TARGET_HANDOFF_P50_MS)}"
    )


def commits(result: Commits) -> None:
    per_step_raw = (result.raw - result.own) / result.steps
    per_step_net = result.net / result.steps
    print()
    print(
        f"Postgres transactions (pg_stat_database.xact_commit, durable throughput window of {result.seconds:.1f}s, "
        f"{result.steps} steps)"
    )
    print(
        f"  raw                     {result.raw - result.own:8d} commits = {per_step_raw:.2f} per step  "
        f"(the bench's own {result.own} polling queries left out)"
    )
    print(
        f"  idle interval           {result.idle:8d} commits in {result.seconds:.1f}s with no work "
        "(worker heartbeat; no scheduler)"
    )
    print(
        f"  net                     {result.net:8d} commits = {per_step_net:.2f} per step   "
        f"target <= {TARGET_COMMITS_PER_STEP:.0f}: {verdict(per_step_net <= TARGET_COMMITS_PER_STEP)}"
    )
