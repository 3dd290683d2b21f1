"""The pure decisions of durable waits (engine/conditions.py, waits.evicted): which wait an evicted task enters,
when a wait is answered, which events match, and what a replay does with the entry at its index."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sfpserver.engine import conditions as cnf
from sfpserver.engine.conditions import EventFact, Recorded, Replay
from sfpserver.engine.models import WaitingFor
from sfpserver.engine.waits import Event, after, evicted

NOW = datetime(2026, 1, 1, 12, tzinfo=UTC)
LATER = NOW + timedelta(seconds=30)


def sleep(group: int, seconds: int, key: str = "") -> dict[str, Any]:
    deadline = (NOW + timedelta(seconds=seconds)).isoformat()
    return {"group": group, "kind": "sleep", "key": key or f"sleep:{seconds}s", "duration": f"{seconds}s",
            "deadline": deadline}  # fmt: skip


def event(group: int, key: str, expression: str | None = None, scope: str | None = None, since: Any = None) -> Any:
    return {"group": group, "kind": "event", "key": key, "event_key": key, "expression": expression, "scope": scope,
            "since": since.isoformat() if since else None}  # fmt: skip


def pushed(key: str, payload: Any, at: datetime = LATER, scope: str | None = None) -> EventFact:
    return EventFact("e1", key, payload, scope, at)


@pytest.mark.pure
@pytest.mark.parametrize(
    ("sleeps", "events", "wait", "due"),
    [
        (True, False, WaitingFor.SLEEP, LATER),
        (False, True, WaitingFor.EVENT, None),
        (True, True, WaitingFor.CONDITION, LATER),
    ],
)
def test_an_evicted_task_waits_for_what_its_open_conditions_name(
    sleeps: bool, events: bool, wait: WaitingFor, due: datetime | None
) -> None:
    assert evicted(sleeps=sleeps, events=events, until=LATER).fields() == {"waiting_for": wait, "due_at": due}


@pytest.mark.pure
def test_eviction_has_no_fixed_wait_and_says_so() -> None:
    with pytest.raises(ValueError, match=r"use waits\.evicted\(\)"):
        after(Event.EVICTED, gated=False)


@pytest.mark.pure
@pytest.mark.parametrize(
    ("conditions", "at", "answered", "hits"),
    [
        ([sleep(0, 5)], NOW + timedelta(seconds=4), False, {}),
        ([sleep(0, 5)], NOW + timedelta(seconds=5), True, {"sleep:5s": [{"sleep_duration": "5s"}]}),
        ([sleep(0, 5), sleep(1, 10)], NOW + timedelta(seconds=6), False, {"sleep:5s": [{"sleep_duration": "5s"}]}),
        ([sleep(0, 5), sleep(0, 10)], NOW + timedelta(seconds=6), True, {"sleep:5s": [{"sleep_duration": "5s"}]}),
        ([sleep(0, 5), event(0, "k")], NOW + timedelta(seconds=6), True, {"sleep:5s": [{"sleep_duration": "5s"}]}),
    ],
)
def test_time_answers_the_groups_whose_sleep_is_due(
    conditions: list[Any], at: datetime, answered: bool, hits: dict[str, Any]
) -> None:
    cnf.pass_time(conditions, at)
    assert (cnf.answered(conditions), cnf.result(conditions)) == (answered, {"CREATE": hits})


@pytest.mark.pure
@pytest.mark.parametrize(
    ("condition", "fact", "matches"),
    [
        (event(0, "k"), pushed("k", {}), True),
        (event(0, "k"), pushed("other", {}), False),
        (event(0, "k"), pushed("k", {}, at=NOW - timedelta(seconds=1)), False),  # before the wait
        (event(0, "k", since=NOW - timedelta(minutes=1)), pushed("k", {}, at=NOW - timedelta(seconds=1)), True),
        (event(0, "k", since=NOW), pushed("k", {}, at=NOW - timedelta(seconds=1)), False),
        (event(0, "k", scope="a"), pushed("k", {}, scope="b"), False),
        (event(0, "k", scope="a"), pushed("k", {}, scope="a"), True),
        (event(0, "k"), pushed("k", {}, scope="a"), True),  # a wait without a scope takes any
        (event(0, "k", "input.user_id == '1234'"), pushed("k", {"user_id": "1234"}), True),
        (event(0, "k", "input.user_id == '1234'"), pushed("k", {"user_id": "99"}), False),
        (event(0, "k", "input.user_id == '1234'"), pushed("k", {}), False),  # no such field: no match, no error
        (event(0, "k", "true"), pushed("k", {}), True),
        (event(0, "k", "input.n > 1 && input.n < 5"), pushed("k", {"n": 3}), True),
    ],
)
def test_an_event_matches_a_condition_by_key_time_scope_and_expression(
    condition: dict[str, Any], fact: EventFact, matches: bool
) -> None:
    assert cnf.event_matches(condition, fact, registered_at=NOW) is matches


@pytest.mark.pure
def test_an_event_answers_only_open_groups_and_the_result_names_what_matched() -> None:
    conditions = [event(0, "a"), sleep(0, 60), event(1, "b")]
    assert cnf.offer_event(conditions, pushed("a", {"n": 1}), NOW)
    assert not cnf.answered(conditions) and cnf.open_event_keys(conditions) == ["b"]
    assert cnf.next_deadline(conditions) is None  # the sleep's group is answered
    assert not cnf.offer_event(conditions, pushed("a", {"n": 2}), NOW)  # its group is answered already
    assert cnf.offer_event(conditions, pushed("b", {"n": 3}), NOW)
    assert cnf.result(conditions) == {"CREATE": {"a": [{"n": 1}], "b": [{"n": 3}]}}


@pytest.mark.pure
@pytest.mark.parametrize(
    ("recorded", "kind", "key", "decision"),
    [
        (None, "sleep", "s1", Replay.RECORD),
        (Recorded("sleep", "s1", answered=True), "sleep", "s1", Replay.ANSWER),
        (Recorded("sleep", "s1", answered=False), "sleep", "s1", Replay.WAIT),
        (Recorded("sleep", "s1", answered=True), "sleep", "s2", Replay.DIVERGED),
        (Recorded("sleep", "s1", answered=True), "event", "s1", Replay.DIVERGED),
        (Recorded("spawn", "w#0", answered=True), "spawn", "w#0", Replay.ANSWER),
    ],
)
def test_a_replay_answers_from_the_log_waits_again_records_or_diverges(
    recorded: Recorded | None, kind: str, key: str, decision: Replay
) -> None:
    assert cnf.replay(recorded, kind, key) is decision


@pytest.mark.pure
def test_the_signature_ignores_readable_keys_and_deadlines_but_not_durations() -> None:
    first = cnf.signature("wait", [sleep(0, 5, key="a"), event(0, "k")])
    renamed = cnf.signature("wait", [{**sleep(0, 5, key="b"), "deadline": LATER.isoformat()}, event(0, "k")])
    longer = cnf.signature("wait", [sleep(0, 6), event(0, "k")])
    assert (first == renamed, first == longer) == (True, False)


@pytest.mark.pure
@pytest.mark.parametrize(
    ("answered", "decision"),
    [
        ({}, cnf.Dag.QUEUE),  # no wait_for: it runs once its parents are done
        ({"wait_for": False}, cnf.Dag.WAIT),
        ({"wait_for": True}, cnf.Dag.QUEUE),
        ({"wait_for": False, "skip_if": True}, cnf.Dag.SKIP),
        ({"wait_for": True, "skip_if": False}, cnf.Dag.QUEUE),
        ({"skip_if": True, "cancel_if": True}, cnf.Dag.CANCEL),  # cancel before skip
        ({"wait_for": False, "skip_if": False, "cancel_if": False}, cnf.Dag.WAIT),
        ({"skip_if": False}, cnf.Dag.QUEUE),
    ],
)
def test_a_dag_task_s_conditions_cancel_before_they_skip_before_they_run(
    answered: dict[str, bool], decision: cnf.Dag
) -> None:
    assert cnf.dag_decision(answered) is decision


@pytest.mark.pure
@pytest.mark.parametrize(
    ("condition", "outputs", "hit"),
    [
        (
            {"group": 0, "kind": "parent", "key": "p", "parent": "p", "expression": "output.n > 1"},
            {"p": {"n": 2}},
            True,
        ),
        (
            {"group": 0, "kind": "parent", "key": "p", "parent": "p", "expression": "output.n > 1"},
            {"p": {"n": 1}},
            False,
        ),
        (
            {"group": 0, "kind": "parent", "key": "p", "parent": "p", "expression": "output.m > 1"},
            {"p": {"n": 1}},
            False,
        ),
        ({"group": 0, "kind": "parent", "key": "p", "parent": "p", "expression": None}, {"p": {"n": 1}}, True),
        ({"group": 0, "kind": "parent", "key": "p", "parent": "p", "expression": "true"}, {}, False),  # no output
    ],
)
def test_a_parent_condition_holds_when_its_expression_holds_over_the_parent_s_output(
    condition: dict[str, Any], outputs: dict[str, Any], hit: bool
) -> None:
    assert ("hit" in cnf.at(condition, NOW, outputs)) is hit


@pytest.mark.pure
def test_a_dag_sleep_is_due_its_duration_after_the_task_is_released() -> None:
    registered = cnf.at({"group": 0, "kind": "sleep", "key": "sleep:5s", "duration": "5s", "seconds": 5}, NOW, {})
    assert registered["deadline"] == (NOW + timedelta(seconds=5)).isoformat()
