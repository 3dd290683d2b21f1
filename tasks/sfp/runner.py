"""Running one sfp command for a step: the CLI (or the Salesforce stand-in) in its own process group, in the
step's private working directory, with a clean environment, output streamed line by line as log events and
turned into progress, the exit code mapped to an outcome.

    result = run_sfp(io, ["install", "-o", "staging", "--artifactdir", "artifacts"], workspace=ws, org_bound=True)

Secrets reach the process only through `stdin` or `env` (never its arguments); the worker's own environment
(database URL, vault keys, secret key) is not inherited: the CLI's environment is built from an allow-list
(PASSED_THROUGH, QUIET_CLI, HOME/TMPDIR in the workspace, the step's injected variables). When the worker is
root the CLI runs as the workspace's own user (tasks/sfp/sandbox.py), which must be able to reach the program:
the stand-in is copied into the workspace and run by a Python interpreter that user can execute.

Stopping the step (cancel, timeout, reassignment) sends SIGTERM to the whole process group and SIGKILL after
SFP_KILL_GRACE seconds; whatever is left of the group (and, as root, every process of the CLI's user) is
killed when the command returns, however it returns.
"""

from __future__ import annotations

import ctypes
import json
import logging
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol

from django.conf import settings

from sfpserver.submissions.standin import STANDIN_MARK
from tasks.sfp import node, outcomes, sandbox
from tasks.sfp.outcomes import Outcome
from tasks.sfp.progress import METRICS_LOG, MetricsTail, ProgressTracker, clean, metric_summary, read_build_result
from tasks.sfp.workspace import Workspace

logger = logging.getLogger(__name__)

TAIL_LINES = 20
DRAIN_SECONDS = 2.0  # output still read after the command exited, before its leftovers are killed
# Begins the log line of every command the Salesforce stand-in ran instead of the CLI: the run detail reads it
# (sfpserver/api/views/runs.py), so a run the stand-in executed says so.
PASSED_THROUGH = ("PATH", "LANG", "LC_ALL", "TZ", "SYSTEMROOT", "NODE_EXTRA_CA_CERTS")
STANDIN = Path(__file__).with_name("standin.py")
INTERPRETERS = ("/usr/local/bin/python3", "/usr/bin/python3")  # for the stand-in, when the worker's is out of reach
QUIET_CLI = {
    "SFPOWERSCRIPTS_NOCOLOR": "1",
    "FORCE_COLOR": "0",
    "NO_COLOR": "1",
    "SF_DISABLE_TELEMETRY": "true",
    "SFDX_DISABLE_TELEMETRY": "true",
    "SF_AUTOUPDATE_DISABLE": "true",
    "SF_USE_GENERIC_UNIX_KEYCHAIN": "true",
    "NPM_CONFIG_UPDATE_NOTIFIER": "false",
    "GIT_TERMINAL_PROMPT": "0",
}


class StepIO(Protocol):
    """What the runner needs of the step it runs for (tasks.context.StepIO implements it on an SDK Context)."""

    attempt: int
    step_name: str

    def log(self, line: str) -> None: ...

    def progress(self, percent: float, message: str) -> None: ...

    def on_stop(self, callback: Callable[[], None]) -> None: ...


class SfpError(RuntimeError):
    """An sfp command could not be run or did not succeed. The message never holds a secret value (the
    engine masks leased secrets in every error anyway)."""

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.non_retryable = not retryable

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_error, (type(self), str(self), not self.non_retryable))


def _rebuild_error(cls: type[SfpError], message: str, retryable: bool) -> SfpError:
    return cls(message, retryable=retryable)


class SfpFailed(SfpError):
    """The command ran and failed."""


class SfpStopped(SfpError):
    """The command was stopped because the step was cancelled or timed out."""


@dataclass
class SfpResult:
    command: str
    exit_code: int
    outcome: Outcome
    percent: float
    metrics: dict[str, float] = field(default_factory=dict)
    build_result: dict[str, Any] | None = None
    lines: list[str] = field(default_factory=list)

    def as_output(self) -> dict[str, Any]:
        return {
            "command": self.command,
            "exit_code": self.exit_code,
            "outcome": self.outcome.status,
            "reason": self.outcome.reason,
            "metrics": self.metrics,
            **({"build_result": self.build_result} if self.build_result is not None else {}),
        }


def command_name(args: Sequence[str]) -> str:
    """`install`, `validate org`, `pool prepare`, ...: the leading words before the first flag (max two)."""
    words: list[str] = []
    for arg in args:
        if arg.startswith("-") or len(words) == 2:
            break
        words.append(arg)
    if len(words) == 2 and words[0] in ("install", "build", "quickbuild", "release", "deploy"):
        words = words[:1]
    return " ".join(words)


def program(org_bound: bool, workspace: Workspace) -> list[str]:
    """The program that runs a command: the stand-in for org-bound commands when SFP_CLI=standin."""
    if org_bound and settings.SFP_CLI == "standin":
        return _standin(workspace)
    binary = Path(settings.SFP_BIN)
    if not binary.exists():
        raise SfpError(
            f"the sfp CLI is not installed at {binary} (run `make install`, or set SFP_BIN)", retryable=False
        )
    owner = workspace.owner
    if owner is not None and not sandbox.reachable(binary, owner, execute=True):
        raise SfpError(
            f"the CLI's user {owner.name} cannot reach the sfp CLI at {binary} (a folder on the way is closed to "
            "other users): install it where every user can read it and set SFP_BIN",
            retryable=False,
        )
    return [str(binary)]


def _standin(workspace: Workspace) -> list[str]:
    if workspace.owner is None:
        return [sys.executable, "-m", "tasks.sfp.standin"]
    copy = workspace.root / "bin" / "sfp-standin.py"
    if not copy.exists():
        copy.parent.mkdir(mode=0o755, exist_ok=True)
        shutil.copyfile(STANDIN, copy)
        copy.chmod(0o644)
    return [_interpreter(workspace.owner), "-I", str(copy)]


def _interpreter(owner: sandbox.CliUser) -> str:
    candidates = (sys.executable, getattr(sys, "_base_executable", ""), *INTERPRETERS)
    for candidate in filter(None, candidates):
        if sandbox.reachable(Path(candidate), owner, execute=True):
            return candidate
    raise SfpError(f"no Python interpreter that the CLI's user {owner.name} can run, for the stand-in", retryable=False)


def child_env(workspace: Workspace, extra: Mapping[str, str] | None, *, standin: bool) -> dict[str, str]:
    """The CLI's whole environment: an allow-list, never the worker's own environment."""
    env = {name: os.environ[name] for name in PASSED_THROUGH if name in os.environ}
    if not standin:
        env["PATH"] = node.path_for_cli(env.get("PATH", ""))  # the wheel's Node where the machine has none
    env.update(QUIET_CLI)
    env.update({"HOME": str(workspace.home), "TMPDIR": str(workspace.tmp), "CI": "true"})
    if workspace.owner is not None:
        env.update({"USER": workspace.owner.name, "LOGNAME": workspace.owner.name})
    elif standin:
        env["PYTHONPATH"] = str(settings.BASE_DIR)
    env.update(extra or {})
    return env


def run_sfp(
    io: StepIO,
    args: Sequence[str],
    *,
    workspace: Workspace,
    org_bound: bool,
    cwd: Path | None = None,
    stdin: str | None = None,
    env: Mapping[str, str] | None = None,
    simulate: Mapping[str, Any] | None = None,
    check: bool = True,
) -> SfpResult:
    """Run `sfp <args>` for the step and return its result; SfpFailed when it failed and `check` is set."""
    command = command_name(args)
    argv = [*program(org_bound, workspace), *args]
    standin = org_bound and settings.SFP_CLI == "standin"
    extra = dict(env or {})
    if standin:
        extra["SFP_STANDIN_ATTEMPT"] = str(io.attempt)
        extra["SFP_STANDIN_SIMULATE"] = json.dumps(dict(simulate or {}))
    directory = cwd or workspace.repo
    io.log(f"{STANDIN_MARK if standin else ''}$ sfp {' '.join(args)}")
    environment = child_env(workspace, extra, standin=standin)
    proc = _spawn(argv, directory, environment, stdin is not None, workspace.spawn_options())
    stopper = _Stopper(proc)
    io.on_stop(stopper.stop)
    try:
        if stdin is not None:
            _feed(proc, stdin)
        lines, tracker, tail = _stream(io, proc, directory)
        exit_code = proc.wait()
    finally:
        _kill_group(proc)
        sandbox.kill_all(workspace.owner)  # and whatever left the group (setsid) under the CLI's user
    return _finish(io, command, exit_code, lines, tracker, tail, directory, stopper.stopped, check)


def _spawn(
    argv: list[str], cwd: Path, env: dict[str, str], with_stdin: bool, as_user: Mapping[str, Any]
) -> subprocess.Popen[bytes]:
    try:
        return subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            stdin=subprocess.PIPE if with_stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent,
            **as_user,
        )
    except OSError as exc:
        raise SfpError(f"could not start {argv[0]}: {exc.strerror}", retryable=False) from None


def _die_with_parent() -> None:
    """In the child: SIGKILL when the worker thread that started it dies (a killed worker leaves no CLI)."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _feed(proc: subprocess.Popen[bytes], data: str) -> None:
    stream: IO[bytes] | None = proc.stdin
    if stream is None:
        return
    try:
        stream.write(data.encode())
        stream.close()
    except BrokenPipeError:
        pass  # the program exited without reading: its output says why


def _stream(
    io: StepIO, proc: subprocess.Popen[bytes], directory: Path
) -> tuple[list[str], ProgressTracker, MetricsTail]:
    """Log every line as it comes and follow metrics.log. Ends at end of output, or DRAIN_SECONDS after the
    command exited even if a background child of it still holds the output open (it is killed next)."""
    tracker, tail = ProgressTracker(), MetricsTail(directory / METRICS_LOG)
    lines: list[str] = []
    pending: queue.Queue[bytes | None] = queue.Queue()
    threading.Thread(target=_pump, args=(proc.stdout, pending), name=f"sfp-out-{proc.pid}", daemon=True).start()
    exited_at: float | None = None
    while True:
        try:
            raw = pending.get(timeout=0.25)
        except queue.Empty:
            raw = b""
            if proc.poll() is not None:
                exited_at = exited_at or time.monotonic()
                if time.monotonic() - exited_at > DRAIN_SECONDS:
                    break
        if raw is None:
            break
        moved = _take_line(io, raw, lines, tracker) if raw else False
        for event in tail.read_new():
            moved = tracker.feed_metric(event) or moved
        if moved:
            io.progress(tracker.percent, tracker.message)
    return lines, tracker, tail


def _pump(stream: IO[bytes] | None, pending: queue.Queue[bytes | None]) -> None:
    try:
        for raw in iter(stream.readline, b"") if stream is not None else ():
            pending.put(raw)
    except (OSError, ValueError):
        pass  # the pipe was closed under us: the command is over
    finally:
        pending.put(None)


def _take_line(io: StepIO, raw: bytes, lines: list[str], tracker: ProgressTracker) -> bool:
    line = clean(raw.decode("utf-8", errors="replace"))
    lines.append(line)
    del lines[: -TAIL_LINES * 10]
    if line:
        io.log(line)
    return tracker.feed_line(line)


def _finish(
    io: StepIO,
    command: str,
    exit_code: int,
    lines: list[str],
    tracker: ProgressTracker,
    tail: MetricsTail,
    directory: Path,
    stopped: bool,
    check: bool,
) -> SfpResult:
    tail.read_new()
    build_result = read_build_result(directory) if command in ("build", "quickbuild") else None
    if stopped:
        raise SfpStopped(f"sfp {command} was stopped (the step was cancelled or timed out)", retryable=False)
    outcome = outcomes.decide(command, exit_code, lines, build_result)
    if outcome.ok:
        io.progress(100.0, f"sfp {command}: {outcome.status}")
    result = SfpResult(
        command,
        exit_code,
        outcome,
        100.0 if outcome.ok else tracker.percent,
        metric_summary(tail.events),
        build_result,
        lines[-TAIL_LINES:],
    )
    if check and not outcome.ok:
        raise SfpFailed(failure_message(result), retryable=outcome.retryable)
    return result


def failure_message(result: SfpResult) -> str:
    detail = next((line.strip() for line in reversed(result.lines) if _looks_like_error(line)), "")
    message = f"sfp {result.command} failed: {result.outcome.reason}"
    return f"{message}: {detail}" if detail else message


def _looks_like_error(line: str) -> bool:
    lowered = line.lower()
    return any(word in lowered for word in ("error", "failed", "unable", "invalid", "not found"))


class _Stopper:
    """Stops the process group from the engine's heartbeat thread without blocking it."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self.proc = proc
        self.stopped = False

    def stop(self) -> None:
        self.stopped = True
        threading.Thread(target=self._terminate, name=f"sfp-stop-{self.proc.pid}", daemon=True).start()

    def _terminate(self) -> None:
        if not _signal_group(self.proc, signal.SIGTERM):
            return
        deadline = time.monotonic() + settings.SFP_KILL_GRACE
        while time.monotonic() < deadline and self.proc.poll() is None:
            time.sleep(0.1)
        _signal_group(self.proc, signal.SIGKILL)


def _signal_group(proc: subprocess.Popen[bytes], signum: int) -> bool:
    try:
        os.killpg(proc.pid, signum)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """Whatever is left of the command's process group dies with the step (and the leader is reaped)."""
    _signal_group(proc, signal.SIGKILL)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        logger.warning("sfp process %s did not exit after SIGKILL", proc.pid)
    for stream in (proc.stdout, proc.stdin):
        if stream is not None:
            stream.close()
