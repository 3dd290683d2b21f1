"""`make run`: the whole platform in the foreground, on embedded Postgres and Redis unless configured.

Starts the API, both worker pools, the scheduler and Flower; triggers the demo pipeline and prints its
progress; stops everything (and the embedded servers it started) on Ctrl-C.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from types import FrameType

from config.embedded import FLOWER_AUTH_FILE, FLOWER_USER, ensure_services, masked, profile_dir
from config.local_secrets import stored_secret
from workers.lifeline import die_with_parent

API_PORT = int(os.environ.get("API_PORT", "8000"))
FLOWER_PORT = int(os.environ.get("FLOWER_PORT", "5555"))

PROCESSES = {
    "api": ["api", "--port", str(API_PORT)],
    "standard pool": ["standard"],
    "long-running pool": ["long-running"],
    "scheduler": ["scheduler"],
    "flower": ["flower", "--port", str(FLOWER_PORT)],
}


def main() -> int:
    services = ensure_services("run")
    flower_login = _flower_login()
    procs: dict[str, subprocess.Popen[bytes]] = {}
    stopping = False

    def stop(_signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        subprocess.run([sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"], check=True)
        for name, args in PROCESSES.items():
            procs[name] = subprocess.Popen(
                [sys.executable, "-m", "workers", *args], start_new_session=True, preexec_fn=die_with_parent
            )
        _announce(_dashboard_link(), flower_login)
        _run_demo(lambda: stopping)
        while not stopping and all(p.poll() is None for p in procs.values()):
            time.sleep(0.5)
    finally:
        print("\nstopping…", flush=True)
        for proc in procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs.values():
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        services.stop()
    return 0


def _dashboard_link() -> str:
    """The dashboard's address with a fresh member token in its fragment (which no server sees): one click
    signs a local user in. Each start revokes the token the previous start printed."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()
    from sfpserver.accounts import tokens
    from sfpserver.accounts.models import ApiToken

    name = "make run dashboard"
    for old in ApiToken.objects.filter(name=name, revoked_at__isnull=True):
        tokens.revoke(old)
    issued = tokens.issue(name, "member", expires_in_days=1)
    return f"http://127.0.0.1:{API_PORT}/dashboard/#token={issued.secret}"


def _flower_login() -> str:
    """Where Flower's login is: FLOWER_BASIC_AUTH(_FILE) when given, else generated once into .local/run/."""
    if os.environ.get("FLOWER_BASIC_AUTH") or os.environ.get("FLOWER_BASIC_AUTH_FILE"):
        return "login from FLOWER_BASIC_AUTH"
    path = profile_dir("run") / FLOWER_AUTH_FILE
    stored_secret(path, 18, shape=f"{FLOWER_USER}:{{}}")
    os.environ["FLOWER_BASIC_AUTH_FILE"] = str(path)
    return f"user:password in .local/run/{FLOWER_AUTH_FILE}"


def _announce(dashboard: str, flower_login: str) -> None:
    print(
        "\nsfp server task platform is up\n"
        f"  dashboard  {dashboard}\n"
        f"  API        http://127.0.0.1:{API_PORT}/sfp/api/docs/\n"
        f"  admin      http://127.0.0.1:{API_PORT}/admin/\n"
        f"  Flower     http://127.0.0.1:{FLOWER_PORT}/  ({flower_login})\n"
        f"  Postgres   {masked(os.environ['DATABASE_URL'])}\n"
        f"  Redis      {masked(os.environ['REDIS_URL'])}\n"
        "  (the embedded servers' passwords are in .local/run/pg-password and .local/run/redis-password)\n"
        "Press Ctrl-C to stop.\n",
        flush=True,
    )


def _run_demo(stopping: object) -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()
    from sfpserver.engine.models import StepRun, WorkflowRun
    from sfpserver.engine.registry import get_workflow
    from sfpserver.engine.trigger import trigger
    from tasks.demo import WORKFLOW

    run_id = trigger(WORKFLOW, {"repository": "demo"})
    print(f"demo: started {WORKFLOW} run {run_id}", flush=True)
    seen: dict[str, str] = {}
    order = {step.name: index for index, step in enumerate(get_workflow(WORKFLOW).steps)}  # as the DAG reads
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not stopping():  # type: ignore[operator]
        rows = StepRun.objects.filter(run_id=run_id).values_list("name", "status", "attempt")
        for name, status, attempt in sorted(rows, key=lambda row: order.get(row[0], len(order))):
            state = f"{status} (attempt {attempt + 1})"
            if seen.get(name) != state:
                seen[name] = state
                print(f"demo:   {name:<16} {state}", flush=True)
        run = WorkflowRun.objects.get(id=run_id)
        if run.finished_at is not None:
            print(f"demo: run {run.status}", flush=True)
            return
        time.sleep(0.3)
