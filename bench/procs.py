"""Worker processes the bench starts, each in its own session so it can be stopped with what it started."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

from config.embedded import LOCAL_DIR
from workers.lifeline import die_with_parent

ROOT = Path(__file__).resolve().parent.parent
LOG_DIR = LOCAL_DIR / "bench" / "logs"  # each node's output, overwritten by the next bench
STOP_TIMEOUT = 30.0


class Node:
    """One Celery worker process (plain or durable), stopped with SIGTERM (SIGKILL after a timeout)."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log: Path) -> None:
        self.name = name
        self.log = log
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "wb") as out:  # the child keeps its own descriptor
            self.proc = subprocess.Popen(
                [sys.executable, *argv],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=die_with_parent,
            )

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        if self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


def node_name(kind: str) -> str:
    return f"bench-{kind}-{os.getpid()}@{socket.gethostname()}"


def durable_node(queue: str, concurrency: int, env: dict[str, str], prefetch: int = 1, index: int = 0) -> Node:
    """`python -m workers node`: the engine's worker process, as the pools start it (`index` tells several apart)."""
    name = node_name(f"durable{index or ''}")
    args = f"-m workers node --pool bench --queues {queue} --concurrency {concurrency} --prefetch {prefetch}"
    return Node(name, [*args.split(), "--name", name], env, LOG_DIR / f"durable-node{index or ''}.log")


def plain_node(queue: str, concurrency: int, env: dict[str, str]) -> Node:
    """A plain Celery worker with the flags `python -m workers node` gives Celery (see workers/__main__.py)."""
    name = node_name("plain")
    args = (
        f"-m celery -A bench.plain worker --pool threads --concurrency {concurrency} --queues {queue} "
        f"--hostname {name} --prefetch-multiplier 1 --loglevel WARNING --without-mingle --without-gossip"
    )
    return Node(name, args.split(), env, LOG_DIR / "plain-node.log")


def plain_best_node(queue: str, processes: int, prefetch: int, env: dict[str, str]) -> Node:
    """Plain Celery as its users tune it for throughput: the prefork pool, a process per core, prefetch > 1."""
    name = node_name("plain-prefork")
    args = (
        f"-m celery -A bench.plain worker --pool prefork --concurrency {processes} --queues {queue} "
        f"--hostname {name} --prefetch-multiplier {prefetch} --loglevel WARNING --without-mingle --without-gossip"
    )
    return Node(name, args.split(), env, LOG_DIR / "plain-prefork-node.log")
