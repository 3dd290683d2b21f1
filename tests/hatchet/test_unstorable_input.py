"""A Hatchet user's `workflow.run(...)` given what Postgres cannot store gets the engine's refusal naming the
field, as the REST API's callers do, not a psycopg error; nothing is recorded. (Refused before any worker is
involved, so no worker is started.)"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import BaseModel

from sfpserver.engine.exceptions import InvalidInputError, InvalidWorkflowError
from sfpserver.engine.models import ScheduledRun, WorkflowRun
from sfpserver.hatchet import Context, Hatchet
from sfpserver.hatchet.models import Event

pytestmark = pytest.mark.usefixtures("db_access")

hatchet = Hatchet()


class DeployInput(BaseModel):
    repository: str = "sample"
    options: dict[str, Any] = {}


deploy = hatchet.workflow(name="SdkUnstorableDeploy", input_validator=DeployInput)


@deploy.task()
def check_out(input: DeployInput, ctx: Context) -> dict[str, str]:
    return {"repository": input.repository}


@pytest.mark.parametrize(
    ("given", "field", "problem"),
    [
        pytest.param(
            DeployInput(repository="\ud800"),
            "input.repository",
            "contains a lone surrogate (\\ud800), which cannot be stored",
            id="surrogate",
        ),
        pytest.param(
            DeployInput(options={"labels": ["ok", "x\x00"]}),
            "input.options.labels.1",
            "contains a NUL character (\\u0000), which cannot be stored",
            id="nul",
        ),
        pytest.param(
            {"repository": "sample", "options": {"k": ["\udc00"]}},
            "input.options.k.0",
            "contains a lone surrogate (\\udc00), which cannot be stored",
            id="surrogate-in-a-dict",
        ),
    ],
)
def test_running_a_workflow_with_what_postgres_cannot_store_is_refused_naming_the_field(
    given: Any, field: str, problem: str
) -> None:
    before = WorkflowRun.objects.filter(workflow_name=deploy.name).count()
    with pytest.raises(InvalidInputError) as refused:
        deploy.run(given, wait_for_result=False)
    assert (refused.value.field, refused.value.problem) == (field, problem)
    assert WorkflowRun.objects.filter(workflow_name=deploy.name).count() == before


def test_run_many_is_refused_whole_when_one_input_cannot_be_stored() -> None:
    before = WorkflowRun.objects.filter(workflow_name=deploy.name).count()
    items = [deploy.create_bulk_run_item(DeployInput()), deploy.create_bulk_run_item(DeployInput(repository="\ud800"))]
    with pytest.raises(InvalidInputError) as refused:
        deploy.run_many(items, wait_for_result=False)
    assert refused.value.field == "input.repository"
    assert WorkflowRun.objects.filter(workflow_name=deploy.name).count() == before


def test_a_scheduled_run_and_an_event_holding_what_postgres_cannot_store_are_refused() -> None:
    before = (
        WorkflowRun.objects.filter(workflow_name=deploy.name).count(),
        ScheduledRun.objects.filter(workflow_name=deploy.name).count(),
        Event.objects.filter(key__startswith="unstorable:").count(),
    )
    at = datetime.now(UTC) + timedelta(hours=1)
    with pytest.raises(InvalidInputError) as scheduled:
        hatchet.scheduled.create("SdkUnstorableDeploy", at, input={"repository": "\ud800"})
    with pytest.raises(InvalidWorkflowError) as pushed:
        hatchet.event.push("unstorable:test", {"repository": "sample"}, additional_metadata={"n": "\x00"})
    assert (scheduled.value.field, pushed.value.field) == ("input.repository", "additional_metadata.n")
    assert (
        WorkflowRun.objects.filter(workflow_name=deploy.name).count(),
        ScheduledRun.objects.filter(workflow_name=deploy.name).count(),
        Event.objects.filter(key__startswith="unstorable:").count(),
    ) == before
