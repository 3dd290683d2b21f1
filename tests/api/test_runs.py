"""Runs: list with filters and pages, detail with retry history, events, cancel, retry-failed, replay."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from sfpserver.engine import events
from sfpserver.engine.models import EventKind, RunStatus, StepRun, WorkflowRun
from sfpserver.engine.trigger import trigger
from sfpserver.live.state import run_state
from tests.api.conftest import Persona, Personas
from tests.api.helpers import complete, fail, operation_id, row_counts, start, step, submit

pytestmark = pytest.mark.django_db


def run_by(persona: Persona, task_type: str = "test.single", **metadata: str) -> str:
    return operation_id(submit(persona.client, {"type": task_type, "data": {}, "metadata": metadata}))


def listed(persona: Persona, query: str = "") -> list[str]:
    response = persona.client.get(f"/sfp/api/runs?{query}")
    assert response.status_code == 200, response.json()
    return [row["id"] for row in response.json()["results"]]


def test_owner_and_member_list_every_run_and_an_application_only_its_own(personas: Personas) -> None:
    case = uuid.uuid4().hex
    mine = run_by(personas.app, case=case)
    theirs = run_by(personas.outsider, case=case)
    by_member = run_by(personas.member, case=case)
    expected = [by_member, theirs, mine]  # newest first
    assert listed(personas.owner, f"metadata=case:{case}") == expected
    assert listed(personas.member, f"metadata=case:{case}") == expected
    assert listed(personas.app) == [mine]
    assert listed(personas.outsider) == [theirs]


def test_runs_filter_by_workflow_status_time_and_metadata(personas: Personas) -> None:
    case = uuid.uuid4().hex
    single = run_by(personas.owner, case=case, env="qa")
    dag = run_by(personas.owner, "test.dag", case=case, env="prod")
    done = run_by(personas.owner, case=case, env="prod")
    complete(done, "only", {})
    owner = personas.owner
    assert listed(owner, f"metadata=case:{case}&workflow=t.single") == [done, single]
    assert listed(owner, f"metadata=case:{case}&status=COMPLETED") == [done]
    assert listed(owner, f"metadata=case:{case}&metadata=env:prod") == [done, dag]
    WorkflowRun.objects.filter(id=single).update(created_at=timezone.now() - timedelta(days=2))
    yesterday = (timezone.now() - timedelta(days=1)).isoformat().replace("+00:00", "Z")
    assert listed(owner, f"metadata=case:{case}&created_after={yesterday}") == [done, dag]
    assert listed(owner, f"metadata=case:{case}&created_before={yesterday}") == [single]


def test_runs_come_in_pages(personas: Personas) -> None:
    ids = [run_by(personas.app) for _ in range(3)]
    first = personas.app.client.get("/sfp/api/runs?page_size=2").json()
    assert (first["count"], [r["id"] for r in first["results"]]) == (3, ids[::-1][:2])
    assert first["next"] == "http://testserver/sfp/api/runs?page=2&page_size=2"
    second = personas.app.client.get("/sfp/api/runs?page_size=2&page=2").json()
    assert ([r["id"] for r in second["results"]], second["next"]) == ([ids[0]], None)
    response = personas.app.client.get("/sfp/api/runs?page=9")
    assert (response.status_code, response.json()) == (404, {"error": "not_found", "detail": "Invalid page."})


@pytest.mark.parametrize(
    ("query", "detail"),
    [
        (
            "status=BOGUS",
            {"status": '"BOGUS" is not a valid choice; one of: QUEUED, RUNNING, COMPLETED, FAILED, CANCELLED'},
        ),
        ("metadata=novalue", {"metadata.0": "expected key:value, got 'novalue'"}),
        (
            "created_after=yesterday",
            {
                "created_after": "Datetime has wrong format. Use one of these formats instead: "
                "YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z]."
            },
        ),
    ],
)
def test_a_bad_filter_is_refused_naming_it(personas: Personas, query: str, detail: dict[str, str]) -> None:
    response = personas.member.client.get(f"/sfp/api/runs?{query}")
    assert (response.status_code, response.json()) == (400, {"error": "invalid_input", "detail": detail})


def test_run_detail_shows_steps_with_their_retry_history_errors_input_and_output(personas: Personas) -> None:
    run_id = operation_id(submit(personas.app.client, {"type": "test.dag", "data": {"branch": "main"}}))
    complete(run_id, "a", {"built": True})
    fail(run_id, "b", "network down", retryable=True)  # b has no retries: fails for good
    body = personas.app.client.get(f"/sfp/api/runs/{run_id}").json()
    assert {k: body[k] for k in ("id", "workflow", "status", "input", "progress", "created_by", "error")} == {
        "id": run_id,
        "workflow": "t.dag",
        "status": "RUNNING",
        "input": {"branch": "main"},
        "progress": 25,
        "created_by": "ci",
        "error": "",
    }
    steps = {s["name"]: s for s in body["steps"]}
    assert [s["name"] for s in body["steps"]] == ["a", "b", "c", "d"]
    assert (steps["a"]["status"], steps["a"]["output"], steps["a"]["worker"]) == ("COMPLETED", {"built": True}, None)
    assert (steps["b"]["status"], steps["b"]["error_type"], steps["b"]["error"]) == (
        "FAILED",
        "RuntimeError",
        "network down",
    )
    [attempt] = steps["b"]["attempts"]
    assert {k: attempt[k] for k in ("number", "outcome", "worker", "error_type", "error_message", "traceback")} == {
        "number": 0,
        "outcome": "FAILED",
        "worker": "worker-1",
        "error_type": "RuntimeError",
        "error_message": "network down",
        "traceback": "Traceback (most recent call last):\nRuntimeError: network down\n",
    }
    assert steps["d"]["parents"] == ["b", "c"]


def test_a_retried_step_lists_every_attempt(personas: Personas) -> None:
    run_id = trigger("t.retry", {})
    complete(run_id, "first", {})
    fail(run_id, "flaky", "try again", retryable=True)
    complete(run_id, "flaky", {"ok": 1})
    body = personas.owner.client.get(f"/sfp/api/runs/{run_id}").json()
    flaky = next(s for s in body["steps"] if s["name"] == "flaky")
    assert (flaky["attempt"], flaky["retry_count"], flaky["retries"]) == (1, 1, 3)
    assert [(a["number"], a["outcome"]) for a in flaky["attempts"]] == [(0, "FAILED"), (1, "COMPLETED")]
    assert body["created_by"] is None


def test_events_page_with_after(personas: Personas) -> None:
    run_id = run_by(personas.app)
    only = step(run_id, "only")
    for n in range(3):
        events.record(only.run_id, only.id, 0, EventKind.LOG, f"line {n}")
    events.record(only.run_id, only.id, 0, EventKind.PROGRESS, "half", {"percent": 50})
    client = personas.app.client
    first = client.get(f"/sfp/api/runs/{run_id}/events?limit=2").json()
    assert [e["message"] for e in first["results"]] == ["line 0", "line 1"]
    assert (first["has_more"], first["next_after"]) == (True, first["results"][-1]["id"])
    rest = client.get(f"/sfp/api/runs/{run_id}/events?after={first['next_after']}").json()
    assert [(e["kind"], e["message"], e["data"]) for e in rest["results"]] == [
        ("LOG", "line 2", None),
        ("PROGRESS", "half", {"percent": 50}),
    ]
    assert rest["has_more"] is False
    assert rest["results"][0] == {
        "id": rest["results"][0]["id"],
        "run_id": run_id,
        "step_id": str(only.id),
        "attempt": 0,
        "kind": "LOG",
        "message": "line 2",
        "data": None,
        "created_at": rest["results"][0]["created_at"],
    }
    progress_only = client.get(f"/sfp/api/runs/{run_id}/events?kind=PROGRESS").json()
    assert [e["message"] for e in progress_only["results"]] == ["half"]
    empty = client.get(f"/sfp/api/runs/{run_id}/events?after={rest['next_after']}").json()
    assert empty == {"results": [], "next_after": rest["next_after"], "has_more": False}
    response = client.get(f"/sfp/api/runs/{run_id}/events?after=-1&limit=5000")
    assert (response.status_code, response.json()) == (
        400,
        {
            "error": "invalid_input",
            "detail": {
                "after": "Ensure this value is greater than or equal to 0.",
                "limit": "Ensure this value is less than or equal to 1000.",
            },
        },
    )


def test_cancelling_a_run_cancels_its_unfinished_steps_once(personas: Personas) -> None:
    run_id = run_by(personas.member, "test.slow")
    start(run_id, "long")
    response = personas.member.client.post(f"/sfp/api/runs/{run_id}/cancel")
    assert (response.status_code, response.json()) == (200, {"run_id": run_id, "status": "CANCELLED"})
    assert set(StepRun.objects.filter(run_id=uuid.UUID(run_id)).values_list("status", flat=True)) == {"CANCELLED"}
    response = personas.member.client.post(f"/sfp/api/runs/{run_id}/cancel")
    assert (response.status_code, response.json()) == (
        409,
        {"error": "invalid_state", "detail": f"run {run_id} is CANCELLED; nothing is left to cancel"},
    )


def test_retry_failed_requeues_only_the_failed_step_and_what_follows(personas: Personas) -> None:
    run_id = run_by(personas.app, "test.dag")
    complete(run_id, "a", {})
    complete(run_id, "c", {})
    fail(run_id, "b", "flaky network")
    assert WorkflowRun.objects.get(id=run_id).status == RunStatus.FAILED
    response = personas.app.client.post(f"/sfp/api/runs/{run_id}/retry-failed")
    assert (response.status_code, response.json()) == (
        200,
        {"run_id": run_id, "status": "RUNNING", "steps": ["b", "d"]},
    )
    statuses = dict(StepRun.objects.filter(run_id=uuid.UUID(run_id)).values_list("name", "status"))
    assert statuses == {"a": "COMPLETED", "b": "QUEUED", "c": "COMPLETED", "d": "PENDING"}


def test_a_failed_step_blocks_its_descendants_by_default_and_fails_the_run(personas: Personas) -> None:
    run_id = run_by(personas.app, "test.dag")
    complete(run_id, "a", {})
    fail(run_id, "b", "lint found 3 problems")
    complete(run_id, "c", {})
    body = personas.app.client.get(f"/sfp/api/runs/{run_id}").json()
    steps = {s["name"]: (s["status"], s["continue_on_failure"]) for s in body["steps"]}
    assert steps == {
        "a": ("COMPLETED", False),
        "b": ("FAILED", False),
        "c": ("COMPLETED", False),
        "d": ("CANCELLED", False),
    }
    assert (body["status"], body["error"], body["continued_failures"]) == ("FAILED", "b: lint found 3 problems", [])


def test_a_step_named_in_continue_on_failure_lets_its_descendants_run_and_the_run_completes_with_failures(
    personas: Personas,
) -> None:
    response = submit(personas.app.client, {"type": "test.dag", "data": {}, "continueOnFailure": ["b"]})
    run_id = operation_id(response)
    complete(run_id, "a", {})
    fail(run_id, "b", "lint found 3 problems")
    assert step(run_id, "d").status == "PENDING"  # b counted as done: d waits for c only
    complete(run_id, "c", {})
    complete(run_id, "d", {"published": True})
    body = personas.app.client.get(f"/sfp/api/runs/{run_id}").json()
    steps = {s["name"]: (s["status"], s["continue_on_failure"]) for s in body["steps"]}
    assert steps == {
        "a": ("COMPLETED", False),
        "b": ("FAILED", True),
        "c": ("COMPLETED", False),
        "d": ("COMPLETED", False),
    }
    assert (body["status"], body["error"], body["continued_failures"]) == ("COMPLETED", "", ["b"])
    assert body["output"] == {"a": {}, "c": {}, "d": {"published": True}}
    listed = personas.app.client.get("/sfp/api/runs").json()["results"]
    assert [(r["status"], r["continued_failures"]) for r in listed if r["id"] == run_id] == [("COMPLETED", ["b"])]
    state = run_state(run_id)  # the live feed says the same
    assert state is not None
    assert (state["status"], state["continued_failures"]) == ("COMPLETED", ["b"])
    assert {s["name"]: s["continue_on_failure"] for s in state["steps"]}["b"] is True
    status = personas.app.client.get(f"/sfp/api/tasks/{run_id}/status").json()
    assert status == {
        "status": "completed",
        "progress": 100,
        "error": None,
        "runId": run_id,
        "continuedFailures": ["b"],
    }


def test_retry_failed_reruns_the_failed_step_of_a_run_completed_with_failures_and_what_follows_it(
    personas: Personas,
) -> None:
    run_id = operation_id(submit(personas.app.client, {"type": "test.dag", "data": {}, "continueOnFailure": ["b"]}))
    complete(run_id, "a", {})
    fail(run_id, "b", "lint found 3 problems")
    complete(run_id, "c", {})
    complete(run_id, "d", {})
    response = personas.app.client.post(f"/sfp/api/runs/{run_id}/retry-failed")
    assert (response.status_code, response.json()) == (
        200,
        {"run_id": run_id, "status": "RUNNING", "steps": ["b", "d"]},
    )
    assert WorkflowRun.objects.get(id=run_id).continued_failures == []


def test_replaying_a_step_that_was_continued_past_clears_the_runs_mark(
    personas: Personas,
) -> None:
    run_id = operation_id(submit(personas.app.client, {"type": "test.dag", "data": {}, "continueOnFailure": ["b"]}))
    complete(run_id, "a", {})
    fail(run_id, "b", "lint found 3 problems")
    complete(run_id, "c", {})
    complete(run_id, "d", {})
    response = personas.app.client.post(f"/sfp/api/runs/{run_id}/steps/{step(run_id, 'b').id}/replay")
    assert response.status_code == 200, response.json()
    body = personas.app.client.get(f"/sfp/api/runs/{run_id}").json()
    assert (body["status"], body["continued_failures"]) == ("RUNNING", [])


def test_retry_failed_refuses_a_run_that_did_not_fail(personas: Personas) -> None:
    run_id = run_by(personas.app)
    complete(run_id, "only", {})
    response = personas.app.client.post(f"/sfp/api/runs/{run_id}/retry-failed")
    assert (response.status_code, response.json()) == (
        409,
        {
            "error": "invalid_state",
            "detail": f"run {run_id} is COMPLETED; only a failed or cancelled run can be retried",
        },
    )


def test_replaying_a_step_reruns_it_and_its_subtree(personas: Personas) -> None:
    run_id = run_by(personas.owner, "test.dag")
    for name in "abcd":
        complete(run_id, name, {"step": name})
    b = step(run_id, "b")
    response = personas.owner.client.post(f"/sfp/api/runs/{run_id}/steps/{b.id}/replay")
    assert (response.status_code, response.json()) == (
        200,
        {"run_id": run_id, "status": "RUNNING", "steps": ["b", "d"]},
    )
    statuses = dict(StepRun.objects.filter(run_id=uuid.UUID(run_id)).values_list("name", "status"))
    assert statuses == {"a": "COMPLETED", "b": "QUEUED", "c": "COMPLETED", "d": "PENDING"}


def test_replaying_a_step_of_another_run_answers_404(personas: Personas) -> None:
    run_id = run_by(personas.owner)
    other = step(run_by(personas.owner), "only")
    response = personas.owner.client.post(f"/sfp/api/runs/{run_id}/steps/{other.id}/replay")
    assert (response.status_code, response.json()) == (
        404,
        {"error": "not_found", "detail": f"no step with id {other.id} in run {run_id}"},
    )


def test_the_outsider_gets_404_for_everything_about_another_applications_run(personas: Personas) -> None:
    run_id = run_by(personas.app, "test.dag")
    complete(run_id, "a", {})
    a = step(run_id, "a")
    before = row_counts()
    not_found = {"error": "not_found", "detail": f"no run with id {run_id}"}
    client = personas.outsider.client
    for response in (
        client.get(f"/sfp/api/runs/{run_id}"),
        client.get(f"/sfp/api/runs/{run_id}/events"),
        client.post(f"/sfp/api/runs/{run_id}/cancel"),
        client.post(f"/sfp/api/runs/{run_id}/retry-failed"),
        client.post(f"/sfp/api/runs/{run_id}/steps/{a.id}/replay"),
    ):
        assert (response.status_code, response.json()) == (404, not_found)
    assert row_counts() == before
    assert WorkflowRun.objects.get(id=run_id).status == RunStatus.RUNNING
    assert personas.member.client.get(f"/sfp/api/runs/{run_id}").status_code == 200
