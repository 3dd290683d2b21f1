"""Lag from a step's progress event to its arrival on open WebSockets of the live feed.

    python bench/ws_lag.py [--sockets 200] [--events 50] [--interval 0.05]

Starts its own embedded Postgres and Redis (ports 54356 / 63826, data under .local/bench-ws), the ASGI app
under uvicorn on a free loopback port and one real worker. A step of the workflow below waits until every
socket holds its snapshot, then reports progress `--events` times; each report carries the time it was
made. The figures are the time from that report to its arrival on each socket of `/ws/runs/{id}/`, first
with one socket, then with `--sockets`. It prints figures and asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sfpserver.engine.definitions import StepDef, WorkflowDef  # noqa: E402
from sfpserver.engine.registry import register_workflow  # noqa: E402

PG_PORT, REDIS_PORT = 54356, 63826
WORKFLOW = "bench.ws_lag"
QUEUE = "bench-ws-lag"
GO_KEY = "bench:ws-lag:go:{run_id}"


def _report_progress(inv: Any) -> dict[str, Any]:
    """Wait for the bench's go, then report progress with the time of each report in its message."""
    import redis
    from django.conf import settings

    client = redis.Redis.from_url(settings.REDIS_URL)
    deadline = time.monotonic() + 120
    while not client.exists(GO_KEY.format(run_id=inv.run_id)):
        if time.monotonic() > deadline:
            raise RuntimeError("the bench never said go")
        time.sleep(0.01)
    count, interval = int(inv.input["events"]), float(inv.input["interval"])
    for index in range(1, count + 1):
        inv.progress(100 * index / count, f"sent_at={time.time():.6f}")
        time.sleep(interval)
    return {"events": count}


register_workflow(
    WorkflowDef(name=WORKFLOW, steps=(StepDef("report", f"{WORKFLOW}:report", queue=QUEUE),)),
    handlers={f"{WORKFLOW}:report": _report_progress},
)


# --- the bench ------------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _wait(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"timed out waiting for {what}")


def _ping(base: str) -> bool:
    with urllib.request.urlopen(f"{base}/sfp/api/ping", timeout=1) as response:
        return bool(response.status == 200)


async def _measure(base: str, token: str, sockets: int, events: int, interval: float) -> list[float]:
    from asgiref.sync import sync_to_async
    from websockets.asyncio.client import connect
    from websockets.typing import Subprotocol

    from sfpserver.engine.trigger import trigger

    run_id = await sync_to_async(trigger)(WORKFLOW, {"events": events, "interval": interval})
    url = f"{base.replace('http', 'ws', 1)}/ws/runs/{run_id}/"
    connections = []
    for _ in range(sockets):  # one at a time: the handshakes are not what is measured
        offer = [Subprotocol("sfp.v1"), Subprotocol(f"bearer.{token}")]  # the token never goes in the URL
        connection = await connect(url, subprotocols=offer, max_size=None, open_timeout=30)
        json.loads(await connection.recv())  # the snapshot
        connections.append(connection)
    arrivals: list[list[tuple[float, str]]] = [[] for _ in connections]

    async def listen(index: int) -> None:
        received = 0
        while received < events:
            raw = await connections[index].recv()
            arrivals[index].append((time.time(), str(raw)))
            received += '"PROGRESS"' in str(raw)

    listeners = [asyncio.create_task(listen(index)) for index in range(len(connections))]
    await sync_to_async(_say_go)(run_id)
    await asyncio.wait(listeners, timeout=events * interval + 60)
    for connection in connections:
        await connection.close()
    return [lag for per_socket in arrivals for lag in _lags(per_socket)]


def _say_go(run_id: Any) -> None:
    import redis
    from django.conf import settings

    redis.Redis.from_url(settings.REDIS_URL).set(GO_KEY.format(run_id=run_id), 1, ex=600)


def _lags(arrivals: list[tuple[float, str]]) -> list[float]:
    lags = []
    for arrived, raw in arrivals:
        message = json.loads(raw)
        event = message.get("event") or {}
        if event.get("kind") == "PROGRESS" and event.get("message", "").startswith("sent_at="):
            lags.append(arrived - float(event["message"].removeprefix("sent_at=")))
    return lags


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def _print_row(sockets: int, events: int, lags: list[float]) -> None:
    ms = [lag * 1000 for lag in lags]
    figures = (statistics.median(ms), _percentile(ms, 0.99), max(ms)) if ms else (float("nan"),) * 3
    print(f"{sockets:>8} {events:>7} {len(ms):>6}/{sockets * events:<7} " + " ".join(f"{f:>8.1f}" for f in figures))


def _start(args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "workers", *args], cwd=ROOT, env=env, start_new_session=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python bench/ws_lag.py", description=__doc__.splitlines()[0])
    parser.add_argument("--sockets", type=int, default=200)
    parser.add_argument("--events", type=int, default=50)
    parser.add_argument("--interval", type=float, default=0.05, help="seconds between two progress reports")
    options = parser.parse_args(argv)

    for name in ("DATABASE_URL", "REDIS_URL"):  # always the bench's own embedded servers
        os.environ.pop(name, None)
    os.environ.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        ENGINE_WORKFLOW_MODULES=__name__.replace("__main__", "bench.ws_lag"),
        LOG_LEVEL="WARNING",
    )
    from config.embedded import ensure_services

    services = ensure_services("bench-ws", PG_PORT, REDIS_PORT)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        subprocess.run([sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"], cwd=ROOT, check=True)
        import django

        django.setup()
        from sfpserver.accounts import tokens
        from sfpserver.engine.models import Worker, WorkerStatus

        env = dict(os.environ)
        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        procs.append(_start(["api", "--host", "127.0.0.1", "--port", str(port)], env))
        procs.append(
            _start(
                [
                    "node",
                    "--pool",
                    "bench",
                    "--queues",
                    QUEUE,
                    "--concurrency",
                    "1",
                    "--name",
                    f"bench-ws-{os.getpid()}",
                ],
                env,
            )
        )
        _wait(lambda: _ping(base), 60, "uvicorn")
        _wait(lambda: Worker.objects.filter(pool="bench", status=WorkerStatus.ACTIVE).exists(), 60, "the worker")
        token = tokens.issue("bench ws lag", "owner").secret
        print(
            f"WebSocket lag: progress event -> arrival on /ws/runs/{{id}}/ (uvicorn {base}, one worker, "
            f"{options.events} events every {options.interval * 1000:.0f} ms)"
        )
        print(f"{'sockets':>8} {'events':>7} {'delivered':>14} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
        for sockets in sorted({1, options.sockets}):
            lags = asyncio.run(_measure(base, token, sockets, options.events, options.interval))
            _print_row(sockets, options.events, lags)
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
        services.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
