"""The label-scoring and worker-choosing decision of engine/affinity.py, as tables (no servers)."""

from __future__ import annotations

from typing import Any

import pytest

from sfpserver.engine.affinity import Affinity, Candidate, Desired, choose, desired_label, meets, score, spec
from sfpserver.engine.exceptions import InvalidWorkflowError


def first(options: list[Candidate]) -> Candidate:
    return options[0]


def only(options: list[Candidate]) -> Candidate:
    assert len(options) == 1, [c.id for c in options]
    return options[0]


MEETS = [
    # worker value, comparator, desired value, met
    ("a", "EQUAL", "a", True),
    ("a", "EQUAL", "b", False),
    (1, "EQUAL", 1, True),
    (1, "EQUAL", "1", False),
    ("a", "NOT_EQUAL", "b", True),
    ("a", "NOT_EQUAL", "a", False),
    (1, "NOT_EQUAL", "1", False),
    (512, "GREATER_THAN", 256, True),
    (256, "GREATER_THAN", 256, False),
    (256, "GREATER_THAN_OR_EQUAL", 256, True),
    (255, "GREATER_THAN_OR_EQUAL", 256, False),
    (128, "LESS_THAN", 256, True),
    (512, "LESS_THAN", 256, False),
    (256, "LESS_THAN_OR_EQUAL", 256, True),
    (257, "LESS_THAN_OR_EQUAL", 256, False),
    ("512", "GREATER_THAN", 256, False),
    ("b", "GREATER_THAN", "a", False),
]


@pytest.mark.parametrize(("worker", "comparator", "desired", "met"), MEETS)
def test_a_worker_value_is_compared_to_the_desired_one_as_hatchet_does(
    worker: Any, comparator: str, desired: Any, met: bool
) -> None:
    assert meets(worker, Desired("k", desired, comparator=comparator)) is met


SCORES = [
    # worker labels, desired labels, score (None: may not take it)
    ({}, [], 0),
    ({"model": "v2"}, [Desired("model", "v2", weight=10)], 10),
    ({"model": "v1"}, [Desired("model", "v2", weight=10)], 0),
    ({}, [Desired("model", "v2", weight=10)], 0),
    ({}, [Desired("model", "v2", required=True)], None),
    ({"model": "v1"}, [Desired("model", "v2", required=True)], None),
    ({"model": "v2"}, [Desired("model", "v2", required=True)], 100),
    (
        {"model": "v2", "memory": 128},
        [Desired("model", "v2", weight=10), Desired("memory", 256, True, 5, "LESS_THAN")],
        15,
    ),
    (
        {"model": "v2", "memory": 512},
        [Desired("model", "v2", weight=10), Desired("memory", 256, True, 5, "LESS_THAN")],
        None,
    ),
    ({"gpu": 1, "zone": "eu"}, [Desired("gpu", 1, weight=3), Desired("zone", "eu", weight=4)], 7),
]


@pytest.mark.parametrize(("labels", "desired", "expected"), SCORES)
def test_a_worker_scores_the_weights_of_the_labels_it_meets(
    labels: dict[str, Any], desired: list[Desired], expected: int | None
) -> None:
    assert score(labels, desired) == expected


A, B, C = Candidate("a", {"model": "v1", "memory": 512}), Candidate("b", {"model": "v2"}), Candidate("c", {})
CHOICES = [
    # affinity, sticky worker, expected worker id (None: nobody may take it)
    (Affinity(), None, "a"),
    (Affinity((Desired("model", "v2", weight=10),)), None, "b"),
    (Affinity((Desired("model", "v3", required=True),)), None, None),
    (Affinity((Desired("memory", 256, True, comparator="GREATER_THAN"),)), None, "a"),
    (Affinity(sticky="SOFT"), "c", "c"),
    (Affinity((Desired("model", "v2", weight=10),), sticky="SOFT"), "c", "c"),
    (Affinity((Desired("model", "v2", required=True),), sticky="SOFT"), "c", "b"),
    (Affinity(sticky="SOFT"), "gone", "a"),
    (Affinity(sticky="HARD"), "c", "c"),
    (Affinity(sticky="HARD"), "gone", None),
    (Affinity(sticky="HARD"), None, "a"),
    (Affinity((Desired("model", "v2", required=True),), sticky="HARD"), "a", None),
]


@pytest.mark.parametrize(("affinity", "sticky_worker", "expected"), CHOICES)
def test_the_best_worker_that_may_take_the_step_is_chosen(
    affinity: Affinity, sticky_worker: str | None, expected: str | None
) -> None:
    chosen = choose([A, B, C], affinity, sticky_worker, pick=first)
    assert (chosen.id if chosen else None) == expected


def test_ties_are_drawn_among_the_best_workers_only() -> None:
    offered: list[list[str]] = []

    def pick(options: list[Candidate]) -> Candidate:
        offered.append([c.id for c in options])
        return options[-1]

    chosen = choose([A, B, C, Candidate("d", {"model": "v2"})], Affinity((Desired("model", "v2"),)), None, pick)
    assert (offered, chosen.id if chosen else None) == ([["b", "d"]], "d")


def test_a_desired_label_from_hatchet_json_takes_its_defaults() -> None:
    assert desired_label({"key": "model", "value": "v2"}, "f") == Desired("model", "v2", False, 100, "EQUAL")


def test_a_comparator_may_be_hatchets_number() -> None:
    assert desired_label({"key": "m", "value": 1, "comparator": 4, "weight": 2}, "f").comparator == "LESS_THAN"


BAD_LABELS = [
    ({"value": "v"}, "desired_worker_labels.key", "a non-empty label name is required"),
    ({"key": "k", "value": 1.5}, "desired_worker_labels.value", "must be a string or a whole number, got 1.5"),
    ({"key": "k", "value": True}, "desired_worker_labels.value", "must be a string or a whole number, got True"),
    (
        {"key": "k", "value": 1, "comparator": "ABOUT"},
        "desired_worker_labels.comparator",
        "must be one of EQUAL, NOT_EQUAL, GREATER_THAN, GREATER_THAN_OR_EQUAL, LESS_THAN, LESS_THAN_OR_EQUAL",
    ),
    ({"key": "k", "value": 1, "weight": "x"}, "desired_worker_labels.weight", "must be a whole number, got 'x'"),
]


@pytest.mark.parametrize(("raw", "field", "detail"), BAD_LABELS)
def test_a_bad_desired_label_is_refused_naming_the_field(raw: dict[str, Any], field: str, detail: str) -> None:
    with pytest.raises(InvalidWorkflowError) as refused:
        desired_label(raw, "desired_worker_labels")
    assert (refused.value.field, refused.value.problem) == (field, detail)


def test_a_run_label_replaces_the_step_label_of_the_same_key() -> None:
    found = spec([{"key": "zone", "value": "eu"}, {"key": "gpu", "value": 1}], [{"key": "zone", "value": "us"}])
    assert [(label["key"], label["value"]) for label in found["labels"]] == [("gpu", 1), ("zone", "us")]


def test_a_step_without_labels_or_stickiness_has_no_affinity() -> None:
    assert spec([], []) == {}


def test_an_unknown_sticky_strategy_is_refused() -> None:
    with pytest.raises(InvalidWorkflowError) as refused:
        spec([], [], sticky="STRONG")
    assert (refused.value.field, refused.value.problem) == ("sticky", "must be one of SOFT, HARD, got 'STRONG'")
