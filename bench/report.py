"""Printing the figures, with the issue's targets beside them."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import TYPE_CHECKING

from django.conf import settings

from bench import history, machine
from bench.measure import percentile

if TYPE_CHECKING:
    from bench.durable_side import HandOffs
    from bench.results import Commits, Throughput
    from bench.run import Options

TARGET_RATIO = 0.5
TARGET_HANDOFF_P50_MS = 5.0
TARGET_COMMITS_PER_STEP = 1.0  # below it, under load (issue 15): the group commit's doing
INDENT = " " * 26


def verdict(met: bool) -> str:
    return "met" if met else "MISSED"


def header(options: Options) -> None:
    print("sfp bench: the durable engine vs plain Celery, same machine, broker, pool and concurrency", flush=True)
    for line in machine.describe():
        print(line)
    print(
        f"workers   one node each, --pool threads --concurrency {options.concurrency} --prefetch-multiplier 1, "
        f"acks_late, task events {'on' if settings.CELERY_WORKER_SEND_TASK_EVENTS else 'off until Flower asks'}"
        " (the project's Celery settings)"
    )
    print(
        f"N         {options.runs} messages / one-step runs; {options.triggers} sequential triggers; "
        f"{options.chains} chains of 10 steps"
    )
    print(f"history   the engine's tables hold {history.RUNS} finished runs, as a server's do (bench/history.py)")
    print()
    print("throughput (no-op work, end to end: from the first publish or trigger_many to the last finish)", flush=True)


def plain(result: Throughput) -> None:
    print(f"  plain Celery task       {result.rate:8.1f} tasks/s  ({result.count} messages: {result.detail})")
    print(f"{INDENT}CPU per task: {_cpu(result)}", flush=True)


def _cpu(result: Throughput) -> str:
    return ", ".join(f"{name} {value:.2f} ms" for name, value in result.cpu.items())


def durable(result: Throughput, baseline: Throughput) -> None:
    print(f"  durable one-step run    {result.rate:8.1f} runs/s   ({result.count} runs: {result.detail})")
    print(f"{INDENT}CPU per run: {_cpu(result)}")


def rounds(pairs: Sequence[tuple[Throughput, Throughput]]) -> None:
    """Every round's figures, and the median round's ratio against the target."""
    print("  rounds                  plain, durable /s, ratio: end to end | drain only (first start → last finish)")
    for number, (plain_round, durable_round) in enumerate(pairs, 1):
        print(
            f"{INDENT}{number}: {plain_round.rate:6.1f} {durable_round.rate:6.1f} "
            f"{durable_round.rate / plain_round.rate:5.2f} | {plain_round.drain_rate:6.1f} "
            f"{durable_round.drain_rate:6.1f} {durable_round.drain_rate / plain_round.drain_rate:5.2f}"
        )
    ratio = statistics.median(d.rate / p.rate for p, d in pairs)
    drain_ratio = statistics.median(d.drain_rate / p.drain_rate for p, d in pairs)
    met = verdict(ratio >= TARGET_RATIO)
    print(f"  ratio durable / plain   {ratio:8.2f}           target >= {TARGET_RATIO:.2f}: {met}")
    print(f"{INDENT}(the median of the {len(pairs)} rounds' ratios, end to end; drain only: {drain_ratio:.2f})")


def _quantiles(values: Sequence[float]) -> str:
    return f"p50 {percentile(values, 50):6.2f} ms   p99 {percentile(values, 99):6.2f} ms"


def latency(
    starts: Sequence[float], handoffs: HandOffs, brokered: HandOffs, hops: Sequence[float], options: Options
) -> None:
    p50 = percentile(handoffs.code, 50)
    print()
    print("latency")
    print(f"  trigger → step start    {_quantiles(starts)}   ({len(starts)} sequential triggers: run created_at → step")
    print(f"{INDENT}started_at, Postgres timestamps)")
    print(
        f"  step → step hand-off    {_quantiles(handoffs.code)}   target p50 < {TARGET_HANDOFF_P50_MS:.0f} ms: "
        f"{verdict(p50 < TARGET_HANDOFF_P50_MS)}"
    )
    print(f"{INDENT}({len(handoffs.code)} hand-offs in {options.chains} chains of no-op steps: a step's code start -")
    print(f"{INDENT}its parent's code start, timed like the plain hop below; the default settings: the")
    print(f"{INDENT}worker that completes a step claims the child it releases in the same transaction)")
    print(f"{INDENT}Postgres timestamps, started_at - parent finished_at: {_quantiles(handoffs.database)}")
    print(f"  through the broker      {_quantiles(brokered.code)}   (ENGINE_HAND_OFF=false: every step is a")
    print(f"{INDENT}Redis message; Postgres timestamps: {_quantiles(brokered.database)})")
    print(f"  plain Celery hop        {_quantiles(hops)}   ({len(hops)} hops: a task publishes the next;")
    print(f"{INDENT}next start - its start; what Celery alone costs a hand-off)")


def commits(result: Commits) -> None:
    per_step_raw = (result.raw - result.own) / result.steps
    per_step_net = result.net / result.steps
    met = verdict(round(per_step_net, 2) < TARGET_COMMITS_PER_STEP)  # as printed: 1.00 is not below 1
    print()
    print("Postgres transactions per step (pg_stat_database.xact_commit over the durable throughput window,")
    print(f"{INDENT}{result.seconds:.1f}s, {result.steps} one-step runs)")
    print(f"  raw                     {result.raw - result.own:8d} commits = {per_step_raw:.2f} per step")
    print(f"{INDENT}(the bench's own {result.own} polling queries left out)")
    print(
        f"  idle interval           {result.idle:8d} commits in {result.seconds:.1f}s with no work (worker heartbeat;"
    )
    print(f"{INDENT}no scheduler running)")
    print(
        f"  net                     {result.net:8d} commits = {per_step_net:.2f} per step   target < "
        f"{TARGET_COMMITS_PER_STEP:.0f}: {met}"
    )


def footer() -> None:
    print()
    print(f"load average {machine.load_average()} at the end (the machine may be shared: read the CPU figures too)")
