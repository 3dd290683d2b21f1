"""API trigger latency under concurrent clients: POST /sfp/api/tasks answered with an operation id.

    python bench/api_latency.py [--clients 50] [--requests 20]

Starts its own embedded Postgres and Redis (ports 54357 / 63827, data under .local/bench-api) and the ASGI
app under uvicorn on a free loopback port (one process, as `python -m workers api` runs it). Each client
thread keeps one HTTP connection and sends its requests back to back; the figure is the time from sending a
request to reading its 201. No worker runs: the bench measures the trigger (validate, record the run and its
steps in one transaction, publish after commit), not the run. It prints figures and asserts nothing.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
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


def _client(port: int, token: str, count: int, out: list[float], errors: list[str]) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    for _ in range(count):
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python bench/api_latency.py", description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--requests", type=int, default=20, help="requests per client")
    options = parser.parse_args(argv)
    for name in ("DATABASE_URL", "REDIS_URL"):
        os.environ.pop(name, None)
    os.environ.update(DJANGO_SETTINGS_MODULE="config.settings", LOG_LEVEL="WARNING", LOG_FORMAT="plain")
    os.environ.setdefault("API_THROTTLE_WRITE_RATE", "1000000/min")  # one token sends every request
    from config.embedded import ensure_services

    services = ensure_services("bench-api", PG_PORT, REDIS_PORT)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        subprocess.run([sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"], cwd=ROOT, check=True)
        import django

        django.setup()
        from sfpserver.accounts import tokens

        port = _free_port()
        procs.append(_start(["api", "--host", "127.0.0.1", "--port", str(port)], dict(os.environ)))
        _wait(lambda: _ping(f"http://127.0.0.1:{port}"), 60, "uvicorn")
        token = tokens.issue("bench api latency", "member").secret
        warm: list[float] = []
        _client(port, token, 20, warm, [])
        latencies: list[float] = []
        errors: list[str] = []
        threads = [
            threading.Thread(target=_client, args=(port, token, options.requests, latencies, errors))
            for _ in range(options.clients)
        ]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        seconds = time.perf_counter() - started
        print(
            f"API trigger latency: POST /sfp/api/tasks -> 201, {options.clients} concurrent clients x "
            f"{options.requests} requests, one uvicorn process, {os.cpu_count()} cores"
        )
        if latencies:
            print(
                f"  p50 {_quantile(latencies, 50):7.1f} ms   p99 {_quantile(latencies, 99):7.1f} ms   "
                f"max {max(latencies):7.1f} ms   {len(latencies) / seconds:6.1f} triggers/s"
            )
        print(f"  {len(latencies)} answered 201, {len(errors)} errors {sorted(set(errors)) or ''}")
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(30)
        services.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
