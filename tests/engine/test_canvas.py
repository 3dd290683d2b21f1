"""A user's plain Celery canvas runs durably through the engine: joins in Postgres, per-step retries."""

from __future__ import annotations

import uuid

import pytest
from celery import chain, chord, group

from sfpserver.engine.canvas import compile_canvas, run_canvas
from sfpserver.engine.models import Attempt
from tests.engine.celery_tasks import add, fail_once, mul, xsum
from tests.engine.helpers import steps, wait_for_run

pytestmark = pytest.mark.usefixtures("platform")


def test_a_chain_with_a_group_joins_the_group_results_in_order() -> None:
    run_id = run_canvas(chain(add.s(2, 2), group(mul.s(2), mul.s(3)), xsum.s()))
    run = wait_for_run(run_id)
    assert run.status == "COMPLETED"
    assert run.output == {"01-add": 4, "02-mul": 8, "03-mul": 12, "04-xsum": 20}


def test_a_chord_passes_the_header_results_to_its_body() -> None:
    run_id = run_canvas(chord([add.s(1, 1), add.s(2, 2), add.s(3, 3)], xsum.s()))
    assert wait_for_run(run_id).output["04-xsum"] == 12


def test_immutable_signatures_ignore_the_parent_result() -> None:
    run_id = run_canvas(chain(add.s(1, 1), add.si(10, 10)))
    assert wait_for_run(run_id).output["02-add"] == 20


def test_a_failing_canvas_step_is_retried_alone() -> None:
    marker = uuid.uuid4().hex
    retried = fail_once.s(marker).set(retries=2)  # type: ignore[call-arg]  # canvas options are free keywords
    run_id = run_canvas(chain(add.s(1, 2), retried, mul.s(10)))
    run = wait_for_run(run_id)
    assert run.status == "COMPLETED"
    assert run.output["03-mul"] == 30
    by_name = steps(run_id)
    assert Attempt.objects.filter(step=by_name["01-add"]).count() == 1
    assert [a.outcome for a in Attempt.objects.filter(step=by_name["02-fail_once"]).order_by("number")] == [
        "FAILED",
        "COMPLETED",
    ]
    assert Attempt.objects.filter(step=by_name["03-mul"]).count() == 1


def test_the_compiled_dag_keeps_the_canvas_shape() -> None:
    definition = compile_canvas(chain(add.s(1, 1), group(mul.s(2), mul.s(3)), xsum.s()))
    parents = {s.name: s.parents for s in definition.steps}
    assert parents == {"01-add": (), "02-mul": ("01-add",), "03-mul": ("01-add",), "04-xsum": ("02-mul", "03-mul")}
