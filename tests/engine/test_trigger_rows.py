"""What a trigger writes reads back as the models say: JSON as JSON, arrays as arrays, defaults and timestamps filled
in; whether one statement wrote it (a plain trigger: statements.START_RUNS, from sql.json_rows) or COPY did (a spawn,
a gated or keyed run: sql.copy_rows). On a queue nobody serves, so nothing runs."""

from __future__ import annotations

import pickle
from uuid import uuid4

import pytest
from django.db import IntegrityError

from sfpserver.engine import lifecycle, sql
from sfpserver.engine.definitions import StepDef, WorkflowDef
from sfpserver.engine.exceptions import InvalidInputError, InvalidWorkflowError
from sfpserver.engine.models import StepRun, StepStatus, WorkflowRun
from sfpserver.engine.trigger import TriggerRequest, prepare, trigger, trigger_many

QUEUE = "trigger-rows-unserved"
pytestmark = pytest.mark.usefixtures("db_access")


def definition() -> WorkflowDef:
    return WorkflowDef(
        f"rows-{uuid4().hex[:8]}",
        steps=(
            StepDef("build", "t:echo", queue=QUEUE, args={"credentials_from_input": ["org"]}),
            StepDef("deploy", "t:echo", parents=("build",), queue=QUEUE, retries=2),
        ),
    )


@pytest.mark.parametrize("written_by", ["one statement", "copy"])
def test_a_triggered_run_and_its_steps_read_back_as_written(written_by: str) -> None:
    payload = {"org": "dev-hub", "packages": ["core", {"name": "ui", "version": "1.2"}], "dry": None}
    parent = trigger(definition()) if written_by == "copy" else None  # a spawn looks its child up: not plain
    spawned_from = StepRun.objects.get(run_id=parent, name="build").id if parent else None
    request = TriggerRequest(
        definition(), payload, metadata={"team": "release"}, priority=3, parent_step_id=spawned_from, child_index=0
    )
    assert prepare(request).plain == (written_by == "one statement")  # the path this case is about
    run_id = trigger_many([request])[0]

    assert WorkflowRun.objects.filter(id=run_id, input__packages__1__name="ui").exists()  # jsonb, not a string
    run = WorkflowRun.objects.get(id=run_id)
    assert (run.input, run.additional_metadata, run.priority) == (payload, {"team": "release"}, 3)
    assert (run.status, run.output, run.error, run.created_at is not None) == ("QUEUED", None, "", True)

    steps = {s.name: s for s in StepRun.objects.filter(run_id=run_id)}
    build, deploy = steps["build"], steps["deploy"]
    assert StepRun.objects.filter(id=deploy.id, parents__contains=["build"]).exists()  # an array column
    assert (build.parents, build.pending_parents, build.status, build.attempt) == ([], 0, StepStatus.QUEUED, 0)
    assert (deploy.parents, deploy.pending_parents, deploy.status, deploy.retries) == (
        ["build"],
        1,
        StepStatus.PENDING,
        2,
    )
    assert build.args == {"credentials_from_input": ["org"], "credentials": ["dev-hub"]}
    assert (build.gates, build.gated) == ({}, False)
    assert build.queued_at is not None and deploy.queued_at is None and build.created_at is not None
    assert run.parent_step_id == spawned_from
    for started in (run_id, parent):
        if started is not None:
            lifecycle.cancel_run(started)


def test_a_second_spawn_of_the_same_child_key_returns_the_first_run() -> None:
    parent = trigger(definition())
    parent_step = StepRun.objects.get(run_id=parent, name="build")
    child = TriggerRequest(definition(), parent_step_id=parent_step.id, child_key="only-once")
    first = trigger_many([child])[0]
    assert trigger_many([child])[0] == first
    with pytest.raises(IntegrityError):  # the constraint the dedupe relies on holds for COPY too
        WorkflowRun.objects.create(workflow_name="x", parent_step_id=parent_step.id, child_key="only-once")
    for run_id in (parent, first):
        lifecycle.cancel_run(run_id)


NUL = "contains a NUL character (\\u0000), which cannot be stored"
SURROGATE = "contains a lone surrogate (\\ud800), which cannot be stored"
INFINITE = "is infinite (Infinity, or a number past ±1.8e308 such as 1e400), which cannot be stored"
UNSTORABLE = [
    pytest.param({"repository": "\ud800"}, {}, "input.repository", SURROGATE, id="surrogate-in-input"),
    pytest.param({"orgs": [{"\ud800": 1}]}, {}, "input.orgs.0.\\ud800", f"the key {SURROGATE}", id="surrogate-key"),
    pytest.param({"repository": "a\x00b"}, {}, "input.repository", NUL, id="nul-in-input"),
    pytest.param({"size": float("inf")}, {}, "input.size", INFINITE, id="infinity-in-input"),
    pytest.param({"size": [float("nan")]}, {}, "input.size.0", "is NaN, which cannot be stored", id="nan-in-input"),
    pytest.param("\ud800", {}, "input", SURROGATE, id="surrogate-as-the-input"),
    pytest.param({}, {"team": "\ud800"}, "additional_metadata.team", SURROGATE, id="surrogate-in-metadata"),
    pytest.param({}, {"ratio": float("-inf")}, "additional_metadata.ratio", INFINITE, id="infinity-in-metadata"),
]


@pytest.mark.parametrize(("payload", "metadata", "field", "problem"), UNSTORABLE)
def test_a_trigger_holding_what_postgres_cannot_store_is_refused_naming_the_field(
    payload: object, metadata: dict[str, object], field: str, problem: str
) -> None:
    before = WorkflowRun.objects.count()
    with pytest.raises(InvalidWorkflowError) as refused:
        trigger(definition(), payload, metadata=metadata)
    assert (refused.value.field, refused.value.problem) == (field, problem)
    assert WorkflowRun.objects.count() == before


def test_a_child_key_holding_a_lone_surrogate_is_refused_naming_it() -> None:
    with pytest.raises(InvalidWorkflowError) as refused:
        trigger(definition(), {}, child_key="key-\udfff")
    assert (refused.value.field, refused.value.problem) == ("child_key", SURROGATE.replace("ud800", "udfff"))


def test_an_input_refusal_survives_pickling_with_its_field() -> None:
    error = InvalidInputError(SURROGATE, field="input.repository")
    copy = pickle.loads(pickle.dumps(error))
    assert (type(copy), copy.field, copy.problem) == (InvalidInputError, "input.repository", SURROGATE)


def test_a_built_row_is_the_row_django_builds() -> None:
    """sql.build (a trigger's hot path) makes the instance Model(**values) makes: every column, foreign keys given as
    objects or as ids, callable defaults called per instance; and it refuses what Django refuses."""
    run = WorkflowRun(workflow_name="rows", input={"a": 1}, priority=2)
    values = {"name": "build", "action": "t:echo", "queue": QUEUE, "parents": ["x"], "args": {"k": [1]}}

    def columns(step: StepRun) -> dict[str, object]:
        return {f.attname: getattr(step, f.attname) for f in StepRun._meta.concrete_fields if f.attname != "id"}

    for relation in ({"run": run}, {"run_id": run.id}):
        ours, django = sql.build(StepRun, **relation, **values), StepRun(**relation, **values)
        assert columns(ours) == columns(django)
        assert ours.id != django.id and ours._state.adding and ours.run_id == run.id
    assert sql.build(StepRun, run=run, **values).run is run  # the object is cached, as Django's descriptor does
    built = [sql.build(WorkflowRun, workflow_name="rows") for _ in range(2)]
    assert built[0].additional_metadata == {} and built[0].additional_metadata is not built[1].additional_metadata
    with pytest.raises(TypeError, match="unexpected keyword argument 'colour'"):
        sql.build(StepRun, colour="blue")
