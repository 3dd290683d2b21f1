"""Entry points of the platform's processes.

python -m workers standard        the standard pool: WORKER_COUNT worker processes
python -m workers long-running    the long-running pool
python -m workers node ...        one Celery worker process (what the pools start)
python -m workers scheduler       timers, reaper and sweeper (single leader)
python -m workers flower          Flower, seeing both pools
python -m workers api             the ASGI server (REST, admin, dashboard, WebSocket): API_PROCESSES processes
python -m workers up              everything above, plus embedded Postgres/Redis when not configured
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
from types import FrameType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import uvicorn

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

# Processes that key nothing with SECRET_KEY (API tokens are checked by the API alone) need no
# DJANGO_SECRET_KEY; given none, they get a random one of their own rather than the public default.
logger = logging.getLogger(__name__)

KEYLESS = {"standard", "long-running", "node", "scheduler", "flower"}


def _django() -> None:
    import django

    django.setup()
    _refuse_unsafe_settings()


def _refuse_unsafe_settings() -> None:
    """Run the system checks tagged for process start (accounts.E001, ...): an error stops the process."""
    from django.core import checks

    from sfpserver.accounts.checks import STARTUP

    errors = [m for m in checks.run_checks(tags=[STARTUP]) if m.is_serious()]
    if errors:
        raise SystemExit("refusing to start:\n" + "\n".join(f"  {m}" for m in errors))


def _own_secret_key() -> None:
    if not (os.environ.get("DJANGO_SECRET_KEY") or os.environ.get("DJANGO_SECRET_KEY_FILE")):
        import secrets

        os.environ["DJANGO_SECRET_KEY"] = secrets.token_urlsafe(50)


def supervise(commands: list[list[str]], pass_fds: tuple[int, ...] = (), restart: bool = False) -> int:
    """Start the commands, pass SIGINT/SIGTERM on to them, and wait for all of them to end. With `restart`, a
    command that ends before the signal came is started again (a second later at the earliest)."""
    from workers.lifeline import die_with_parent

    def start(command: list[str]) -> subprocess.Popen[bytes]:
        return subprocess.Popen(command, preexec_fn=die_with_parent, pass_fds=pass_fds)

    procs = [start(cmd) for cmd in commands]
    stopping = threading.Event()

    def forward(signum: int, _frame: FrameType | None) -> None:
        stopping.set()
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM if signum == signal.SIGINT else signum)

    signal.signal(signal.SIGINT, forward)
    signal.signal(signal.SIGTERM, forward)
    while restart and not stopping.wait(1.0):
        for index, proc in enumerate(procs):
            if proc.poll() is not None and not stopping.is_set():
                logger.warning(
                    "a server process ended; starting another", extra={"pid": proc.pid, "exit_code": proc.returncode}
                )
                procs[index] = start(commands[index])
                if stopping.is_set():  # the signal came while it started: it was not among those told
                    procs[index].terminate()
    codes = [proc.wait() for proc in procs]
    # Told to stop, a process ended by that signal stopped as asked (uvicorn re-raises it once it has drained).
    told = {-signal.SIGTERM, -signal.SIGINT} if stopping.is_set() else set()
    return max((0 if code in told else code for code in codes), default=0)


def pool_main(pool_name: str, count: int | None) -> int:
    _django()
    from workers.pools import get_pool

    pool = get_pool(pool_name)
    host = socket.gethostname()
    commands = [
        [
            sys.executable,
            "-m",
            "workers",
            "node",
            "--pool",
            pool.name,
            "--queues",
            pool.queue,
            "--concurrency",
            str(pool.concurrency),
            "--prefetch",
            str(pool.prefetch_multiplier),
            "--name",
            f"{pool.name}-{index}@{host}",
        ]
        for index in range(1, (count or pool.processes) + 1)
    ]
    return supervise(commands)


def node_main(args: argparse.Namespace) -> int:
    _django()
    from django.conf import settings

    from config.celery import app
    from sfpserver.engine import services as engine

    queues = [q for q in args.queues.split(",") if q]
    engine.configure_worker(pool=args.pool, queues=queues, slots=args.concurrency, name=args.name)
    app.worker_main(
        [
            "--quiet",  # no banner on stdout: what a worker writes is log lines (settings.LOGGING)
            "worker",
            "--pool",
            "threads",
            "--concurrency",
            str(args.concurrency),
            "--queues",
            ",".join(queues),
            "--hostname",
            args.name,
            "--prefetch-multiplier",
            str(args.prefetch),
            "--loglevel",
            settings.LOG_LEVEL,
            "--without-mingle",
            "--without-gossip",
        ]
    )
    return 0


def scheduler_main() -> int:
    _django()
    from sfpserver.engine import services as engine

    stop = threading.Event()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    engine.run_scheduler(stop)
    return 0


def flower_main(host: str, port: int) -> int:
    _django()
    from django.conf import settings
    from kombu import Queue

    from config.celery import app
    from workers.flower import FlowerAuthError, flower_environ, queues

    try:
        os.environ.update(flower_environ(settings.FLOWER_BASIC_AUTH))
    except FlowerAuthError as exc:
        raise SystemExit(f"python -m workers flower: {exc}") from None
    app.conf.broker_transport = None  # the stock transport, which Flower recognises (settings.py)
    shown = queues()
    app.conf.task_default_queue, app.conf.task_queues = shown[0], [Queue(name) for name in shown]
    app.start(["flower", f"--port={port}", f"--address={host}"])
    return 0


def api_main(host: str, port: int, processes: int | None, fd: int | None) -> int:
    """One ASGI server process; or, for several (API_PROCESSES), this process holds the port and starts that many
    `api --fd` processes, each listening on a socket of its own beside it, over which the kernel spreads the
    connections (each its own process: not dumpable, ended with it, started again if it ends before this one is
    told to stop)."""
    import uvicorn

    _django()  # settings.LOGGING first: uvicorn's own records then go through it (log_config=None)
    from django.conf import settings

    from sfpserver.api.readiness import announce_dependencies

    count = settings.API_PROCESSES if processes is None else processes
    if count < 1:
        raise SystemExit(f"python -m workers api: --processes must be at least 1, got {count}")
    config = uvicorn.Config(
        "config.asgi:application", host=host, port=port, log_level="warning", lifespan="off", log_config=None
    )
    if fd is not None:  # one of several: a listening socket of its own on the port the first process holds
        return _serve(uvicorn.Server(config), [_listener_beside(socket.socket(fileno=fd))])
    announce_dependencies()  # serves at once; says while Postgres or Redis is not there yet (503 meanwhile)
    if count == 1:
        return _serve(uvicorn.Server(config), None)
    held = _hold_port(host, port)  # a port already taken ends the process here
    command = [sys.executable, "-m", "workers", "api", "--fd", str(held.fileno())]
    return supervise([command] * count, pass_fds=(held.fileno(),), restart=True)


def _hold_port(host: str, port: int) -> socket.socket:
    """The port, bound with SO_REUSEPORT but not listening: the server processes each listen on a socket of their
    own beside it, and the kernel spreads new connections over them (one shared listening socket gave them all to
    whichever process woke first). A port another program holds, or another server of ours listens on, ends here."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    held = socket.socket(family, socket.SOCK_STREAM)
    held.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        held.bind((host, port))
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.settimeout(1)
            taken = probe.connect_ex(({"0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host), port)) == 0
    except OSError as exc:
        raise SystemExit(f"python -m workers api: cannot take {host}:{port}: {exc.strerror}") from None
    if taken:
        raise SystemExit(f"python -m workers api: {host}:{port} is taken: another server listens on it")
    return held


def _listener_beside(held: socket.socket) -> socket.socket:
    """A listening socket on the address `held` holds, in its SO_REUSEPORT group."""
    listener = socket.socket(held.family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    listener.bind(held.getsockname()[:2])
    held.close()
    listener.listen(2048)
    return listener


def _serve(server: uvicorn.Server, sockets: list[socket.socket] | None) -> int:
    """Run a uvicorn server until it is told to stop; 3 (uvicorn's startup failure) when it never started."""
    server.run(sockets=sockets)
    return 0 if server.started else 3


def main(argv: list[str] | None = None) -> int:
    from config.undumpable import forbid_dumps

    forbid_dumps()  # every platform process holds the database URL, the keys: no same-uid child reads them
    args = build_parser().parse_args(argv)
    return dispatch(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m workers")
    sub = parser.add_subparsers(dest="command", required=True)
    for pool in ("standard", "long-running"):
        p = sub.add_parser(pool)
        p.add_argument("--count", type=int, default=None, help="worker processes (default: from settings)")
    node = sub.add_parser("node")
    node.add_argument("--pool", required=True)
    node.add_argument("--queues", required=True)
    node.add_argument("--concurrency", type=int, default=1)
    node.add_argument("--prefetch", type=int, default=1)
    node.add_argument("--name", required=True)
    sub.add_parser("scheduler")
    flower = sub.add_parser("flower")
    flower.add_argument("--host", default=os.environ.get("FLOWER_HOST", "127.0.0.1"))
    flower.add_argument("--port", type=int, default=int(os.environ.get("FLOWER_PORT", "5555")))
    api = sub.add_parser("api")
    api.add_argument("--host", default=os.environ.get("API_HOST", "127.0.0.1"))
    api.add_argument("--port", type=int, default=int(os.environ.get("API_PORT", "8000")))
    api.add_argument("--processes", type=int, default=None, help="server processes (default: API_PROCESSES)")
    api.add_argument("--fd", type=int, default=None, help=argparse.SUPPRESS)  # a listening socket: internal
    sub.add_parser("up")
    return parser


def dispatch(args: argparse.Namespace) -> int:
    if args.command in KEYLESS:
        _own_secret_key()
    if args.command in ("standard", "long-running"):
        return pool_main(args.command, args.count)
    if args.command == "node":
        return node_main(args)
    if args.command == "scheduler":
        return scheduler_main()
    if args.command == "flower":
        return flower_main(args.host, args.port)
    if args.command == "api":
        return api_main(args.host, args.port, args.processes, args.fd)
    from config.launcher import main as up

    return up()


if __name__ == "__main__":
    sys.exit(main())
