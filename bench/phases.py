"""The bench, phase after phase; the report is printed as the figures come in."""

from __future__ import annotations

import os
from pathlib import Path

from bench import best, cron_tick, durable_side, facade, history, plain_side, report, workflows
from bench.procs import durable_node
from bench.results import Throughput, progress
from bench.run import Options

WARM_UP_RUNS = 20


def _handoffs_through_broker(options: Options, env: dict[str, str]) -> durable_side.HandOffs:
    """The chains again on a node with ENGINE_HAND_OFF=false: every step goes through Redis."""
    progress(f"hand-off latency through the broker: {options.chains} chains on a node with ENGINE_HAND_OFF=false")
    node = durable_node(workflows.QUEUE, options.concurrency, {**env, "ENGINE_HAND_OFF": "false"})
    try:
        durable_side.wait_registered(node)
        durable_side.run_one_at_a_time(workflows.SINGLE, WARM_UP_RUNS)
        return durable_side.chain_handoffs(options.chains)
    finally:
        node.stop()


def _more_rounds(options: Options, env: dict[str, str]) -> list[tuple[Throughput, Throughput]]:
    """Plain and durable throughput again, one after the other, while the durable node stays up: on a shared
    machine a pair measured close together is compared, and the median round is the figure."""
    rounds = []
    for number in range(2, options.rounds + 1):
        progress(f"throughput round {number} of {options.rounds}: plain Celery, then the durable engine")
        plain, _ = plain_side.measure(options, env, chains=0)
        durable, _ = durable_side.drain(options.runs)
        rounds.append((plain, durable))
    return rounds


def run_all(options: Options, pgdata: Path | None) -> None:
    """Every phase in turn; `pgdata` (an embedded server's) lets the report count Postgres's CPU time."""
    env = dict(os.environ)
    report.header(options)
    history.ensure()
    durable_side.forget_old_runs()
    progress(f"plain Celery: {options.runs} pre-queued no-op messages, then {options.chains} chains of 10 tasks")
    plain, hops = plain_side.measure(options, env)
    report.plain(plain)
    node = durable_node(workflows.QUEUE, options.concurrency, env)
    try:
        durable_side.wait_registered(node)
        durable_side.run_one_at_a_time(workflows.SINGLE, WARM_UP_RUNS)
        progress(f"trigger-to-start latency: {options.triggers} sequential triggers")
        starts = durable_side.trigger_to_start(options.triggers)
        progress(f"hand-off latency: {options.chains} chains of {workflows.CHAIN_LENGTH} steps")
        handoffs = durable_side.chain_handoffs(options.chains)
        progress(f"durable throughput: {options.runs} one-step runs (and {options.settle:.0f}s waits for pg stats)")
        durable, commits = durable_side.throughput(options, node, pgdata)
        rounds = [(plain, durable), *_more_rounds(options, env)]
        progress(f"facade overhead: {options.runs // 2} one-step runs through the engine, then through the SDK")
        facade_figures = facade.measure(options.runs // 2)
    finally:
        node.stop()
    brokered = _handoffs_through_broker(options, env)
    report.durable(durable, plain)
    report.rounds(rounds)
    report.latency(starts, handoffs, brokered, hops, options)
    report.commits(commits)
    facade.report(*facade_figures)
    best.report(best.measure(options.runs, options.rounds, env), best.trigger_costs(env))
    progress(f"scheduler cron check: {' and '.join(map(str, cron_tick.COUNTS))} crons registered")
    cron_tick.report(cron_tick.run())
    report.footer()


def run_best(options: Options) -> None:
    """Only each side at its best, and what a trigger costs (`python -m bench --only-best`)."""
    env = dict(os.environ)
    report.header(options)
    durable_side.forget_old_runs()
    best.report(best.measure(options.runs, options.rounds, env), best.trigger_costs(env))
    report.footer()
