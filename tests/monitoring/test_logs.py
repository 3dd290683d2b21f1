"""Log lines: JSON (for VictoriaLogs) carrying run id, step, attempt, worker and pool where they apply, or
plain text for a terminal; secrets masked either way."""

from __future__ import annotations

import io
import json
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest

from sfpserver.engine import worker
from sfpserver.engine.definitions import StepDef, WorkflowDef
from sfpserver.engine.trigger import trigger
from sfpserver.monitoring.logs import JsonFormatter, PlainFormatter, WorkerContextFilter
from sfpserver.vault.redaction import RedactingFilter, Redactor
from tests.conftest import ROOT, Processes
from tests.engine.helpers import wait_for_run
from workers.lifeline import die_with_parent

SECRET = "ghp_s3cr3t-t0ken-value"


@pytest.fixture
def captured() -> Iterator[tuple[logging.Logger, io.StringIO, logging.StreamHandler[io.StringIO]]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(WorkerContextFilter())
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger(f"tests.logs.{uuid4().hex[:6]}")
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.INFO)
    yield logger, stream, handler
    logger.removeHandler(handler)


def lines(stream: io.StringIO) -> list[str]:
    return stream.getvalue().splitlines()


def test_a_json_line_holds_the_record_and_the_context_the_call_passed(captured: Any) -> None:
    logger, stream, handler = captured
    handler.setFormatter(JsonFormatter())

    logger.info("step %s done", "build", extra={"run_id": "r-1", "step": "build", "attempt": 2})

    line = json.loads(lines(stream)[0])
    assert line["message"] == "step build done"
    assert line["level"] == "INFO" and line["logger"] == logger.name
    assert line["process"] == os.getpid() and line["timestamp"].endswith("+00:00")
    assert (line["run_id"], line["step"], line["attempt"]) == ("r-1", "build", 2)
    assert "worker" not in line  # not a worker process


def test_an_exception_goes_into_its_own_field_of_the_same_line(captured: Any) -> None:
    logger, stream, handler = captured
    handler.setFormatter(JsonFormatter())

    try:
        raise ValueError("bad value")
    except ValueError:
        logger.exception("it broke")

    [raw] = lines(stream)
    line = json.loads(raw)
    assert line["message"] == "it broke"
    assert "ValueError: bad value" in line["exception"]


def test_a_worker_process_names_its_worker_and_pool_on_every_line(
    captured: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    logger, stream, handler = captured
    handler.setFormatter(JsonFormatter())
    identity = worker.WorkerIdentity(pool="standard", queues=["standard"], slots=2, name="standard-1@host")
    monkeypatch.setattr(worker, "_identity", identity)

    logger.warning("heartbeat failed")
    logger.warning("worker gone", extra={"worker": "other@host", "pool": "long-running"})

    first, second = (json.loads(raw) for raw in lines(stream))
    assert (first["worker"], first["pool"]) == ("standard-1@host", "standard")
    assert (second["worker"], second["pool"]) == ("other@host", "long-running")  # the call's own say wins


def test_a_leased_secret_is_masked_in_the_message_and_in_extra_fields(captured: Any) -> None:
    logger, stream, handler = captured
    handler.setFormatter(JsonFormatter())
    redactor = Redactor([SECRET])
    try:
        logger.info("token is %s", SECRET, extra={"header": f"Bearer {SECRET}", "run_id": "r-2"})
    finally:
        redactor.clear()

    [raw] = lines(stream)
    assert SECRET not in raw
    line = json.loads(raw)
    assert line["message"] == "token is ***" and line["header"] == "Bearer ***" and line["run_id"] == "r-2"


def test_plain_lines_carry_the_context_too(captured: Any) -> None:
    logger, stream, handler = captured
    handler.setFormatter(PlainFormatter())

    logger.info("step completed", extra={"run_id": "r-3", "step": "deploy", "attempt": 0})

    [line] = lines(stream)
    assert line.endswith("step completed [run_id=r-3 step=deploy attempt=0]")
    assert not line.startswith("{")


# --- real processes ------------------------------------------------------------------------------------------

SNIPPET = "import logging; logging.getLogger('sfpserver.probe').warning('hello', extra={'run_id': 'r-4'})"


@pytest.mark.parametrize("log_format", ["json", "plain"])
def test_log_format_switches_every_process_between_json_and_plain(log_format: str) -> None:
    env = {**os.environ, "LOG_FORMAT": log_format}
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", SNIPPET], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=60, check=True,
    )  # fmt: skip
    [line] = [raw for raw in result.stderr.splitlines() if "hello" in raw]
    if log_format == "json":
        assert json.loads(line)["run_id"] == "r-4"
    else:
        assert line.endswith("sfpserver.probe: hello [run_id=r-4]")


def test_a_worker_process_writes_only_json_lines_with_the_run_step_attempt_worker_and_pool(
    platform: Processes, tmp_path: Path
) -> None:
    queue = f"logs-{uuid4().hex[:8]}"
    stderr, stdout = tmp_path / "stderr.log", tmp_path / "stdout.log"
    with stderr.open("w") as errors, stdout.open("w") as output:
        node = subprocess.Popen(
            [sys.executable, "-m", "workers", "node", "--pool", "logs-pool", "--queues", queue, "--name", queue],
            cwd=ROOT, env=platform.env(LOG_FORMAT="json", LOG_LEVEL="INFO"), stderr=errors, stdout=output,
            start_new_session=True, preexec_fn=die_with_parent,
        )  # fmt: skip
    try:
        workflow = WorkflowDef(
            f"l.json-{uuid4().hex[:8]}", steps=(StepDef("flaky", "t:flaky", retries=1, queue=queue),)
        )
        run_id = trigger(workflow, {"fail_times": 1})
        assert wait_for_run(run_id, timeout=60).status == "COMPLETED"
    finally:
        os.killpg(node.pid, signal.SIGTERM)
        node.wait(timeout=30)

    records = [json.loads(raw) for raw in stderr.read_text().splitlines() if raw.strip()]  # each line is JSON
    ours = [r for r in records if r.get("run_id") == str(run_id)]
    messages = [(r["message"], r["attempt"]) for r in ours]
    assert ("step started", 0) in messages and ("step started", 1) in messages
    assert ("step attempt failed: RuntimeError: flaky failure on attempt 0", 0) in messages
    assert ("step completed", 1) in messages
    assert {(r["workflow"], r["step"], r["worker"], r["pool"]) for r in ours} == {
        (workflow.name, "flaky", queue, "logs-pool")
    }
    assert all({"timestamp", "level", "logger", "message", "process"} <= set(r) for r in records)
    # On stdout, Celery's own shutdown notice at most (not a log record); no banner.
    assert [line for line in stdout.read_text().splitlines() if line.strip() and "shutdown" not in line] == []


def test_a_log_handler_without_the_redacting_filter_fails_the_system_check(settings: Any) -> None:
    from sfpserver.monitoring.checks import check_every_log_handler_masks_secrets

    assert check_every_log_handler_masks_secrets() == []
    settings.LOGGING = {
        **settings.LOGGING,
        "handlers": {**settings.LOGGING["handlers"], "file": {"class": "logging.FileHandler", "filters": []}},
    }
    assert [error.id for error in check_every_log_handler_masks_secrets()] == ["monitoring.E001"]
