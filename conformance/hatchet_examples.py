"""Run Hatchet's own example tests against `sfpserver.hatchet`, with only the import swapped.

Hatchet's Python SDK ships example programs (`sdks/python/examples/<name>/worker.py`) with tests; a team moving
over runs those first. This script takes them from a copy of Hatchet's repository (a checkout or a bare git dir,
e.g. the one the search tool's `fetch` brings), rewrites `hatchet_sdk` to `sfpserver.hatchet` in every file and
runs them against this checkout's code, on embedded PostgreSQL and Redis of their own, with the platform's
scheduler and API running (as `make run` does; webhook deliveries go to the API). Nothing of Hatchet's is copied
into the project: the copy lives in a temporary folder and is deleted afterwards.

Two ways of running:
- strict (the default when no example is named): Hatchet's `examples/worker.py` exactly as it is, which imports
  every example; one module that cannot import fails them all. This is the count to quote.
- lenient (the default when examples are named, or with --lenient): the same worker, but an example module that
  cannot import is left out (its failure is listed) instead of failing the worker, so one example can be
  checked while others still miss names.

The glue around the tests is adapted, not the tests: the session worker is started with this Python instead of
`poetry run`, on a free health-check port. pytest-asyncio (which Hatchet's tests need and ours do not),
with tenacity and aiohttp that they import too, is installed once into a side virtualenv that sees the
project's own packages.

    python conformance/hatchet_examples.py [--repo PATH] [--strict|--lenient] [example ...]
"""

from __future__ import annotations

import argparse
import ast
import io
import os
import re
import shutil
import socket
import subprocess
import sys
import sysconfig
import tarfile
import tempfile
import time
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

HARNESS_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_REPO = Path("/work/.mirror/hatchet-dev+hatchet/repo")
SIDE_PACKAGES = ("pytest-asyncio==1.4.0", "tenacity==9.2.1", "aiohttp==3.14.5")  # what Hatchet's tests import
SWAP = re.compile(r"\bhatchet_sdk\b")
SDK = "sdks/python"
DATABASE = "hatchet_examples"


@dataclass
class Outcome:
    test: str
    result: str  # passed, failed, error, skipped
    reason: str = ""


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    code = Path(args.code).resolve()
    strict = args.strict or (not args.examples and not args.lenient)
    with tempfile.TemporaryDirectory(prefix="hatchet-examples-") as tmp:
        tree = Path(tmp)
        _extract(Path(args.repo), tree)
        sdk = tree / SDK
        _swap_imports(sdk)
        _adapt_glue(sdk, lenient=not strict)
        python = _side_python()
        env = _platform_env(code, args.pg_port, args.redis_port, sdk)
        env["PATH"] = os.pathsep.join([_poetry_shim(tree, python), env.get("PATH", "")])
        api_port = _free_port()
        env["HATCHET_CLIENT_SERVER_URL"] = f"http://127.0.0.1:{api_port}"  # webhook deliveries go there
        platform = [
            _start(code, env, "scheduler"),
            _start(code, {**env, "API_PROCESSES": "1"}, "api", "--host", "127.0.0.1", "--port", str(api_port)),
        ]
        try:
            _wait_for_port(api_port)
            outcomes = _run_tests(python, sdk, env, args.examples, args.timeout, args.pytest_args)
        finally:
            for proc in platform:
                proc.terminate()
                proc.wait(30)
        _report(outcomes, strict, sdk / "import-failures.txt")
    return 0


def _start(code: Path, env: dict[str, str], *command: str) -> subprocess.Popen[bytes]:
    """A platform process (`python -m workers ...`) of the checkout under test."""
    return subprocess.Popen(
        [sys.executable, "-m", "workers", *command],
        cwd=code,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for_port(port: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise SystemExit(f"the API did not listen on port {port} within {timeout:.0f}s")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("examples", nargs="*", help="example folders to run (default: all)")
    parser.add_argument("--repo", default=os.environ.get("HATCHET_REPO", str(DEFAULT_REPO)))
    parser.add_argument("--code", default=os.getcwd(), help="the checkout whose code runs (default: here)")
    parser.add_argument("--strict", action="store_true", help="Hatchet's worker unchanged (the count to quote)")
    parser.add_argument("--lenient", action="store_true", help="leave out example modules that cannot import")
    parser.add_argument("--pg-port", type=int, default=int(os.environ.get("EXAMPLES_PG_PORT", "54391")))
    parser.add_argument("--redis-port", type=int, default=int(os.environ.get("EXAMPLES_REDIS_PORT", "63791")))
    parser.add_argument("--timeout", type=int, default=180, help="seconds per test")
    parser.add_argument("--pytest-args", default="", help="more arguments for pytest, e.g. '-k durable'")
    return parser


# --- the copy of Hatchet's examples ---------------------------------------------------------------------------


def _extract(repo: Path, into: Path) -> None:
    paths = [f"{SDK}/examples", f"{SDK}/conftest.py", f"{SDK}/tests/worker_fixture.py", f"{SDK}/tests/__init__.py"]
    if (repo / SDK).is_dir():  # a checkout
        for path in paths:
            source = repo / path
            if source.is_dir():
                shutil.copytree(source, into / path)
            elif source.exists():
                (into / path).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(source, into / path)
        return
    present = [p for p in paths if _git(repo, "cat-file", "-e", f"HEAD:{p}", check=False).returncode == 0]
    archive = subprocess.run(["git", "-C", str(repo), "archive", "HEAD", *present], check=True, capture_output=True)
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(into, filter="data")


def _git(repo: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["git", "-C", str(repo), *args], check=check, capture_output=True)


def _swap_imports(sdk: Path) -> None:
    """The one change a moving team makes: `hatchet_sdk` becomes `sfpserver.hatchet`."""
    for path in sdk.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        swapped = SWAP.sub("sfpserver.hatchet", text)
        if swapped != text:
            path.write_text(swapped, encoding="utf-8")


def _adapt_glue(sdk: Path, *, lenient: bool) -> None:
    """Start the session worker on a free port; in lenient mode, tolerate broken imports. Hatchet's tests start
    workers with `poetry run python ...`: a `poetry` on the PATH runs them with this Python (_poetry_shim)."""
    (sdk / "tests" / "__init__.py").touch()
    conftest = sdk / "conftest.py"
    session_worker = "with hatchet_worker(command) as proc"
    text = conftest.read_text(encoding="utf-8")
    conftest.write_text(text.replace(session_worker, "with hatchet_worker(command, get_free_port()) as proc"))
    (sdk / "pytest.ini").write_text(
        "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = session\n"
        "log_cli = false\naddopts = -p no:cacheprovider -p no:django\n",
        encoding="utf-8",
    )
    if lenient:
        worker = sdk / "examples" / "worker.py"
        worker.write_text(_tolerant_worker(worker.read_text(encoding="utf-8")), encoding="utf-8")


def _poetry_shim(folder: Path, python: Path) -> str:
    """A `poetry` command that runs `poetry run python ARGS` as `<python> ARGS` (and `poetry run X` as X)."""
    shim = folder / "bin" / "poetry"
    shim.parent.mkdir(parents=True, exist_ok=True)
    shim.write_text(
        f'#!/bin/sh\n[ "$1" = run ] && shift\nif [ "$1" = python ]; then shift; exec "{python}" "$@"; fi\nexec "$@"\n',
        encoding="utf-8",
    )
    shim.chmod(0o755)
    return str(shim.parent)


def _tolerant_worker(source: str) -> str:
    """Hatchet's all-examples worker, with each `from examples... import` guarded and its names left out of the
    worker's workflow list when it fails (the failure is written to import-failures.txt)."""
    module = ast.parse(source)
    body: list[ast.stmt] = []
    for node in module.body:
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("examples."):
            names = [alias.asname or alias.name for alias in node.names]
            fallback = ast.parse(
                "import traceback as _tb\n"
                f"open('import-failures.txt', 'a').write({node.module!r} + ': ' + "
                "_tb.format_exception_only(_e)[-1])\n" + "\n".join(f"{name} = None" for name in names)
            ).body
            handler = ast.ExceptHandler(type=ast.Name("BaseException"), name="_e", body=fallback)
            body.append(ast.Try(body=[node], handlers=[handler], orelse=[], finalbody=[]))
        else:
            body.append(node)
    module.body = body
    for call in ast.walk(module):
        if isinstance(call, ast.keyword) and call.arg == "workflows" and isinstance(call.value, ast.List):
            call.value = ast.parse(f"[_w for _w in {ast.unparse(call.value)} if _w is not None]").body[0].value  # type: ignore[attr-defined]
    return ast.unparse(ast.fix_missing_locations(module))


# --- where it runs ------------------------------------------------------------------------------------------


def _side_python() -> Path:
    """A virtualenv that sees this Python's packages and adds the test plugins Hatchet's tests need."""
    venv = HARNESS_ROOT / ".local" / "hatchet-examples-venv"
    python = venv / "bin" / "python"
    stamp = venv / ".packages"
    project_site = str(Path(sysconfig.get_paths()["purelib"]).resolve())  # not through a symlinked .venv
    wanted = "\n".join([project_site, *SIDE_PACKAGES])
    if stamp.exists() and stamp.read_text() == wanted:
        return python
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    Path(site, "project-venv.pth").write_text(project_site + "\n")
    subprocess.run([str(python), "-m", "pip", "install", "-q", *SIDE_PACKAGES], check=True)
    stamp.write_text(wanted)
    return python


def _platform_env(code: Path, pg_port: int, redis_port: int, sdk: Path) -> dict[str, str]:
    """Embedded servers of their own, a fresh migrated database, and the environment every process gets."""
    sys.path.insert(0, str(code))
    for key in ("DATABASE_URL", "REDIS_URL"):
        os.environ.pop(key, None)
    from config.embedded import ensure_services

    services = ensure_services(f"hatchet-examples-{pg_port}", pg_port, redis_port)
    assert services.postgres is not None
    _fresh_database(services.postgres.url("postgres"))
    env = {
        **os.environ,
        "DATABASE_URL": services.postgres.url(DATABASE),
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "PYTHONPATH": os.pathsep.join([str(sdk), str(code)]),
        "HATCHET_CLIENT_WORKER_HEALTHCHECK_ENABLED": "True",
        "LOG_LEVEL": os.environ.get("LOG_LEVEL", "WARNING"),
    }
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=code, env=env, check=True)
    return env


def _fresh_database(admin_url: str) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DATABASE}"')


def _run_tests(
    python: Path, sdk: Path, env: dict[str, str], examples: list[str], timeout: int, extra: str
) -> list[Outcome]:
    targets = [f"examples/{name.strip('/')}" for name in examples] or ["examples"]
    junit = sdk / "junit.xml"
    command = [str(python), "-m", "pytest", *targets, f"--junitxml={junit}", f"--timeout={timeout}", "-q", "-rN"]
    command.append("--continue-on-collection-errors")
    subprocess.run(command + extra.split(), cwd=sdk, env=env, check=False)
    return _outcomes(junit) if junit.exists() else []


def _outcomes(junit: Path) -> list[Outcome]:
    outcomes = []
    for case in ET.parse(junit).getroot().iter("testcase"):
        name = f"{case.get('classname', '')}::{case.get('name', '')}"
        result, reason = "passed", ""
        for tag in ("failure", "error", "skipped"):
            found = case.find(tag)
            if found is not None:
                result = {"failure": "failed"}.get(tag, tag)
                text = (found.get("message") or found.text or "").strip()
                reason = text.splitlines()[0][:200] if text else ""
                break
        outcomes.append(Outcome(name, result, reason))
    return outcomes


def _report(outcomes: list[Outcome], strict: bool, import_failures: Path) -> None:
    counts = Counter(o.result for o in outcomes)
    print("\n=== Hatchet's example tests against sfpserver.hatchet", "(strict)" if strict else "(lenient)")
    for outcome in outcomes:
        if outcome.result != "passed":
            print(f"{outcome.result.upper():8} {outcome.test}  {outcome.reason}")
    if import_failures.exists():
        print("\nexample modules left out (could not import):")
        print(import_failures.read_text())
    total = len(outcomes)
    print(
        f"\n{counts['passed']} passed, {counts['failed']} failed, {counts['error']} errors, "
        f"{counts['skipped']} skipped, of {total}"
    )


if __name__ == "__main__":
    sys.exit(main())
