"""API trigger latency under concurrent clients: POST /sfp/api/tasks answered with an operation id.

    python bench/api_latency.py [--clients 50] [--requests 20] [--rate 0]

Starts its own embedded Postgres and Redis (ports 54357 / 63827, data under .local/bench-api) and the API as
`python -m workers api` runs it (API_PROCESSES processes of API_THREADS lanes each, from the environment or
their defaults) on a free loopback port. Each client thread keeps one HTTP connection and sends its requests
back to back (or, with --rate R, all clients together start R requests a second, each client waiting for its
answer first); the figure is the time from sending a request to reading its 201. Back to back, the latency is
clients / throughput (Little's law): the figures then measure how many triggers a second the API sustains.
It also prints the most connections the API held to Postgres (pg_stat_activity) during the run. No worker
runs: the bench measures the trigger (validate, record the run and its steps in one transaction, publish after
commit), not the run. It prints figures (and the issue's targets beside them) and asserts nothing.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.ws_lag import _free_port, _ping, _start, _wait  # noqa: E402

PG_PORT, REDIS_PORT = 54357, 63827
BODY = json.dumps({"type": "demo", "data": {"repository": "bench"}})
TARGET_P50_MS, TARGET_P99_MS = 50.0, 200.0  # issue 15, item 5: at 50 concurrent clients


def _client(port: int, token: str, count: int, out: list[float], errors: list[str], interval: float = 0.0) -> None:
    """`count` requests on one connection: back to back, or one started every `interval` seconds (when the
    previous one has been answered), from a random offset so that the clients do not start in step."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    due = time.perf_counter() + random.uniform(0, interval)
    for _ in range(count):
        if interval:
            time.sleep(max(0.0, due - time.perf_counter()))
            due += interval
        started = time.perf_counter()
        try:
            conn.request("POST", "/sfp/api/tasks", BODY, headers)
            response = conn.getresponse()
            response.read()
        except (OSError, http.client.HTTPException) as exc:
            errors.append(type(exc).__name__)
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            continue
        elapsed = (time.perf_counter() - started) * 1000
        if response.status == 201:
            out.append(elapsed)
        else:
            errors.append(str(response.status))
    conn.close()


def _quantile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def _cpu_seconds(pid: int) -> float:
    """User and system CPU of `pid` and its children (the API's server processes), from /proc."""
    tree = [pid, *(int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split())]
    ticks = 0
    for member in tree:
        fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def _connections_sampler(stop: threading.Event, peak: list[int]) -> None:
    """The most client connections Postgres held at once (the bench's own included), sampled every 50 ms."""
    from django.db import connection

    try:
        with connection.cursor() as cursor:
            while not stop.is_set():
                cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'")
                peak[0] = max(peak[0], int(cursor.fetchone()[0]))
                stop.wait(0.05)
    finally:
        connection.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python bench/api_latency.py", description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--requests", type=int, default=20, help="requests per client")
    parser.add_argument("--rate", type=float, default=0.0, help="requests a second, all clients (0: back to back)")
    parser.add_argument("--pg-port", type=int, default=PG_PORT, help=argparse.SUPPRESS)
    parser.add_argument("--redis-port", type=int, default=REDIS_PORT, help=argparse.SUPPRESS)
    options = parser.parse_args(argv)
    for name in ("DATABASE_URL", "REDIS_URL"):
        os.environ.pop(name, None)
    os.environ.update(DJANGO_SETTINGS_MODULE="config.settings", LOG_LEVEL="WARNING", LOG_FORMAT="plain")
    os.environ.setdefault("API_THROTTLE_WRITE_RATE", "1000000/min")  # one token sends every request
    from config.embedded import ensure_services

    services = ensure_services("bench-api", options.pg_port, options.redis_port)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        subprocess.run([sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"], cwd=ROOT, check=True)
        import django

        django.setup()
        from django.conf import settings

        from sfpserver.accounts import tokens

        port = _free_port()
        procs.append(_start(["api", "--host", "127.0.0.1", "--port", str(port)], dict(os.environ)))
        _wait(lambda: _ping(f"http://127.0.0.1:{port}"), 60, "uvicorn")
        token = tokens.issue("bench api latency", "member").secret
        warm = [threading.Thread(target=_client, args=(port, token, 10, [], [])) for _ in range(10)]
        for thread in warm:  # every process and lane has served (and connected) before the measure
            thread.start()
        for thread in warm:
            thread.join()
        latencies: list[float] = []
        errors: list[str] = []
        interval = options.clients / options.rate if options.rate > 0 else 0.0
        threads = [
            threading.Thread(target=_client, args=(port, token, options.requests, latencies, errors, interval))
            for _ in range(options.clients)
        ]
        stop, peak = threading.Event(), [0]
        sampler = threading.Thread(target=_connections_sampler, args=(stop, peak), daemon=True)
        sampler.start()
        cpu_before = _cpu_seconds(procs[0].pid)
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        seconds = time.perf_counter() - started
        cpu = _cpu_seconds(procs[0].pid) - cpu_before
        stop.set()
        sampler.join(5)
        pace = f"{options.rate:g} requests/s offered" if options.rate > 0 else "back to back"
        print(
            f"API trigger latency: POST /sfp/api/tasks -> 201, {options.clients} concurrent clients x "
            f"{options.requests} requests ({pace}), {settings.API_PROCESSES} API process(es) x "
            f"{settings.API_THREADS} lanes, {os.cpu_count()} cores"
        )
        if latencies:
            p50, p99 = _quantile(latencies, 50), _quantile(latencies, 99)
            print(
                f"  p50 {p50:7.1f} ms   p99 {p99:7.1f} ms   max {max(latencies):7.1f} ms   "
                f"{len(latencies) / seconds:6.1f} triggers/s   API CPU {1000 * cpu / len(latencies):.1f} ms a trigger"
            )
            print(
                f"  target p50 <= {TARGET_P50_MS:g} ms, p99 <= {TARGET_P99_MS:g} ms (at 50 clients): "
                f"p50 {p50 / TARGET_P50_MS:.2f}x, p99 {p99 / TARGET_P99_MS:.2f}x the target"
            )
        print(f"  {len(latencies)} answered 201, {len(errors)} errors {sorted(set(errors)) or ''}")
        print(f"  Postgres client connections at most {peak[0]} (the bench's own 2 included)")
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(30)
        services.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
