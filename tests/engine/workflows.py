"""Workflows the engine tests run on real workers. Every execution of a step's code leaves an
"executed" log event, so tests can count how often code really ran (not just what was recorded)."""

from __future__ import annotations

import threading
import time
from typing import Any

from sfpserver.engine.definitions import StepDef, WorkflowDef
from sfpserver.engine.exceptions import NonRetryableError
from sfpserver.engine.registry import register_workflow

FAULT_QUEUE = "fault"  # served only by worker processes a fault test starts and kills itself


def _executed(inv: Any) -> None:
    inv.log(f"executed:{inv.claimed.name}:{inv.attempt}")


def echo(inv: Any) -> dict[str, Any]:
    _executed(inv)
    return {"step": inv.claimed.name, "input": inv.input, "parents": inv.parent_outputs}


def flaky(inv: Any) -> dict[str, Any]:
    """Fails while attempt < input["fail_times"]."""
    _executed(inv)
    if inv.attempt < int((inv.input or {}).get("fail_times", 0)):
        raise RuntimeError(f"flaky failure on attempt {inv.attempt}")
    return {"attempt": inv.attempt}


def refuse(inv: Any) -> None:
    _executed(inv)
    raise NonRetryableError("this input can never succeed")


def boom(inv: Any) -> None:
    _executed(inv)
    raise ValueError("boom")


def slow(inv: Any) -> dict[str, Any]:
    """Sleeps input["seconds"] in small slices (stoppable), reporting progress."""
    _executed(inv)
    seconds = float((inv.input or {}).get("seconds", 3))
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        time.sleep(0.05)
    return {"slept": seconds}


def reporting(inv: Any) -> dict[str, Any]:
    """Like `slow`, but reports its progress every slice, as a real build streams its output."""
    _executed(inv)
    seconds = float((inv.input or {}).get("seconds", 3))
    started = time.monotonic()
    while (elapsed := time.monotonic() - started) < seconds:
        inv.progress(100 * elapsed / seconds)
        time.sleep(0.1)
    return {"slept": seconds}


def spin_forever(inv: Any) -> None:
    _executed(inv)
    while True:
        time.sleep(0.05)


def sleep_hour(inv: Any) -> None:
    """Blocked in one call that does not see StepInterrupted until it returns."""
    _executed(inv)
    time.sleep(3600)


_arrived: dict[str, int] = {}  # run id -> how many of its steps started their first attempt in this process
_arrivals = threading.Condition()


def rendezvous(inv: Any) -> dict[str, Any]:
    """On its first attempt, waits (at most 20 s) until input["n"] steps of its run have started in this process,
    so that their completions reach the process's group commit together (tests/engine/test_groupcommit_faults.py).
    A later attempt (a step run again elsewhere) does not wait."""
    _executed(inv)
    if inv.attempt == 0:
        run, expected = str(inv.claimed.run_id), int((inv.input or {}).get("n", 1))
        with _arrivals:
            _arrived[run] = _arrived.get(run, 0) + 1
            _arrivals.notify_all()
            _arrivals.wait_for(lambda: _arrived[run] >= expected, timeout=20)
    return {"step": inv.claimed.name, "attempt": inv.attempt}


def wf(name: str, *steps: StepDef, **kwargs: Any) -> None:
    handlers: dict[str, Any] = {step.action: HANDLERS[step.action.split(":", 1)[1]] for step in steps}
    register_workflow(WorkflowDef(name=name, steps=steps, **kwargs), handlers)


HANDLERS = {
    "echo": echo,
    "flaky": flaky,
    "refuse": refuse,
    "boom": boom,
    "slow": slow,
    "spin": spin_forever,
    "reporting": reporting,
    "sleep_hour": sleep_hour,
    "rendezvous": rendezvous,
}


def step(name: str, handler: str, *parents: str, **kwargs: Any) -> StepDef:
    return StepDef(name=name, action=f"t:{handler}", parents=parents, **kwargs)


wf("t.single", step("only", "echo"))
wf("t.dag", step("a", "echo"), step("b", "echo", "a"), step("c", "echo", "a"), step("d", "echo", "b", "c"))
wf("t.chain10", *(step(f"s{i}", "echo", *([f"s{i - 1}"] if i else [])) for i in range(10)))
wf("t.retry", step("first", "echo"), step("flaky", "flaky", "first", retries=3), step("last", "echo", "flaky"))
wf("t.backoff", step("flaky", "flaky", retries=2, backoff_factor=2.0, backoff_max_seconds=3))
wf("t.no_retry", step("refuse", "refuse", retries=3))
ONE_PER_GROUP = ({"expression": "input.group", "max_runs": 1, "strategy": "GROUP_ROUND_ROBIN"},)
wf("t.gated_backoff", step("flaky", "flaky", retries=1, backoff_factor=2.0, concurrency=ONE_PER_GROUP))
wf(
    "t.failure",
    step("root", "echo"),
    step("bad", "boom", "root", retries=1),
    step("after_bad", "echo", "bad"),
    step("side", "slow", "root"),
    step("side_after", "echo", "side"),
    StepDef("handle", "t:echo", kind="ON_FAILURE"),
)
wf(
    "t.success_hook",
    step("a", "echo"),
    step("b", "echo", "a"),
    StepDef("celebrate", "t:echo", parents=("b",), kind="ON_SUCCESS"),
    StepDef("handle", "t:echo", kind="ON_FAILURE"),
)
wf("t.timeout", step("stuck", "spin", execution_timeout=1.0, retries=1))
wf("t.schedule_timeout", step("never", "echo", queue="nobody-serves-this", schedule_timeout=1.0))
wf("t.cancel", step("long", "slow"), step("after", "echo", "long"))
wf("t.long_pool", step("long", "slow", queue="long-running"))
wf(
    "t.fault",
    step("one", "echo", queue=FAULT_QUEUE),
    step("two", "slow", "one", queue=FAULT_QUEUE),
    step("three", "echo", "two", queue=FAULT_QUEUE),
)
wf("t.fault_slow", step("only", "slow", queue=FAULT_QUEUE))  # test_transport.py
GROUP_COMMIT_FAN_OUT = 4  # parallel steps whose completions meet in one batch (test_groupcommit_faults.py)
wf(
    "t.gc_fan_out",
    *(step(f"p{i}", "rendezvous", queue=FAULT_QUEUE) for i in range(GROUP_COMMIT_FAN_OUT)),
    step("join", "echo", *(f"p{i}" for i in range(GROUP_COMMIT_FAN_OUT)), queue=FAULT_QUEUE),
)
wf("t.reporting_chain", *(step(f"s{i}", "reporting", *([f"s{i - 1}"] if i else [])) for i in range(5)))

PRIORITY_QUEUE = "prio"  # served by a one-slot node the priority test starts
wf("t.prio_block", step("block", "slow", queue=PRIORITY_QUEUE))
wf("t.prio", step("only", "echo", queue=PRIORITY_QUEUE))

STUCK_QUEUE = "stuck"  # served by a one-slot node the abandon test starts
wf("t.sleeps_an_hour", step("stuck", "sleep_hour", queue=STUCK_QUEUE, execution_timeout=2.0))
wf("t.after_stuck", step("only", "echo", queue=STUCK_QUEUE))
