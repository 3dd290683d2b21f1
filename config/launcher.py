"""`make run`: the whole platform in the foreground, on embedded Postgres and Redis unless configured.

Starts the API, both worker pools, the scheduler and Flower; says it is up only once the API answers ready;
triggers the demo pipeline and prints its progress; stops everything (and the embedded servers it started) on
Ctrl-C, at once on a second Ctrl-C.

One `make run` per checkout: a second one, while the first runs, says so and exits before it touches anything
(the lock is an flock on .local/run/launcher.lock, released by the kernel when the first one ends however it
ends). Logs are plain text for a terminal unless LOG_FORMAT says otherwise.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
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


LOCK_FILE = "launcher.lock"
READY_TIMEOUT = float(os.environ.get("RUN_READY_TIMEOUT", "300"))


def hold_lock(path: Path) -> int | None:
    """An open descriptor holding an exclusive flock on `path` (our pid written in it), or None when another
    process holds it. The lock lasts as long as the descriptor: until this process ends, however it ends."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    return fd


def lock_holder(path: Path) -> str:
    try:
        return path.read_text().strip() or "?"
    except OSError:
        return "?"


def main() -> int:
    os.environ.setdefault("LOG_FORMAT", "plain")  # a terminal; the deploy files log JSON
    lock = profile_dir("run") / LOCK_FILE
    if hold_lock(lock) is None:
        print(
            f"make run is already running in this checkout (pid {lock_holder(lock)}); it is left as it is.\n"
            f"Use it (its terminal shows the links), or stop it with Ctrl-C there first.",
            file=sys.stderr,
            flush=True,
        )
        return 1
    services = ensure_services("run")
    flower_login = _flower_login()
    procs: dict[str, subprocess.Popen[bytes]] = {}
    stopping = False

    def stop(_signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        if stopping:  # the second Ctrl-C: no more waiting
            print("\nstopping now", flush=True)
            _kill_all(procs)
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        subprocess.run([sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"], check=True)
        for name, args in PROCESSES.items():
            procs[name] = subprocess.Popen(
                [sys.executable, "-m", "workers", *args], start_new_session=True, preexec_fn=die_with_parent
            )
        if not _wait_until_ready(procs, lambda: stopping):
            return 1
        dashboard = _dashboard_link()
        _announce(dashboard, flower_login, _standin_warning())
        _run_demo(lambda: stopping)
        if not stopping:
            print(f"\nsign in to the dashboard: {dashboard}\nPress Ctrl-C to stop.\n", flush=True)
        while not stopping and all(p.poll() is None for p in procs.values()):
            time.sleep(0.5)
    finally:
        print("\nstopping… (Ctrl-C again to stop at once)", flush=True)
        _stop_all(procs)
        services.stop()
    return 0


def _stop_all(procs: dict[str, subprocess.Popen[bytes]]) -> None:
    for proc in procs.values():
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs.values():
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            proc.wait()


def _kill_all(procs: dict[str, subprocess.Popen[bytes]]) -> None:
    for proc in procs.values():
        _kill_group(proc)


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL the process and what it started (each runs in a session of its own)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


def _wait_until_ready(procs: dict[str, subprocess.Popen[bytes]], stopping: Callable[[], bool]) -> bool:
    """Poll /sfp/api/ready until it answers 200; False when a process ended, Ctrl-C came or time ran out."""
    print("waiting for the API to be ready (database, broker, migrations, a worker per pool)…", flush=True)
    deadline = time.monotonic() + READY_TIMEOUT
    last = ""
    while time.monotonic() < deadline and not stopping():
        ended = [name for name, proc in procs.items() if proc.poll() is not None]
        if ended:
            print(f"not started: {', '.join(ended)} ended (see the lines above)", file=sys.stderr, flush=True)
            return False
        ready, last = _ready()
        if ready:
            return True
        time.sleep(0.5)
    if not stopping():
        print(f"the API was not ready within {READY_TIMEOUT:.0f}s: {last}", file=sys.stderr, flush=True)
    return False


def _ready() -> tuple[bool, str]:
    """Whether the API answers ready, and else what it waits for."""
    url = f"http://127.0.0.1:{API_PORT}/sfp/api/ready"
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return answer.status == 200, ""
    except urllib.error.HTTPError as refused:
        try:
            checks = json.loads(refused.read())["checks"]
        except (ValueError, KeyError, TypeError):
            return False, f"HTTP {refused.code}"
        return False, "; ".join(f"{name}: {c['detail']}" for name, c in checks.items() if not c["ok"])
    except OSError as exc:
        return False, f"the API does not answer yet ({type(exc).__name__})"


def _standin_warning() -> str:
    from django.conf import settings

    if settings.SFP_CLI != "standin":
        return ""
    rule = "!" * 100
    return (
        f"{rule}\n"
        "!! SALESFORCE STAND-IN ACTIVE (SFP_CLI=standin): org-bound sfp commands do NOT reach Salesforce.\n"
        "!! They run a simulator that speaks the CLI's contract; runs it executed say so in their detail.\n"
        "!! For real orgs: SFP_CLI=real make run\n"
        f"{rule}\n"
    )


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


def _announce(dashboard: str, flower_login: str, warning: str) -> None:
    print(
        f"\n{warning}sfp server task platform is up\n"
        f"  dashboard  {dashboard}\n"
        f"  API        http://127.0.0.1:{API_PORT}/sfp/api/  (docs: /sfp/api/docs/)\n"
        f"  admin      http://127.0.0.1:{API_PORT}/admin/\n"
        f"  Flower     http://127.0.0.1:{FLOWER_PORT}/  ({flower_login})\n"
        f"  Postgres   {masked(os.environ['DATABASE_URL'])}\n"
        f"  Redis      {masked(os.environ['REDIS_URL'])}\n"
        "  (the embedded servers' passwords are in .local/run/pg-password and .local/run/redis-password)\n"
        "  admin login: python manage.py createsuperuser\n"
        f"{warning}"
        "Press Ctrl-C to stop.\n",
        flush=True,
    )


def _run_demo(stopping: object) -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()
    from sfpserver.engine import services as engine
    from tasks.demo import WORKFLOW

    run_id = engine.trigger(WORKFLOW, {"repository": "demo"})
    print(f"demo: started {WORKFLOW} run {run_id}", flush=True)
    seen: dict[str, str] = {}
    order = {step.name: index for index, step in enumerate(engine.get_workflow(WORKFLOW).steps)}  # as the DAG reads
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not stopping():  # type: ignore[operator]
        for step in sorted(engine.steps_of([run_id]), key=lambda step: order.get(step.name, len(order))):
            state = f"{step.status} (attempt {step.attempt + 1})"
            if seen.get(step.name) != state:
                seen[step.name] = state
                print(f"demo:   {step.name:<16} {state}", flush=True)
        run = engine.get_run(run_id)
        if run is not None and run.finished_at is not None:
            print(f"demo: run {run.status}", flush=True)
            return
        time.sleep(0.3)
