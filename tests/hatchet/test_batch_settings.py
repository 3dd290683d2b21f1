"""A batch task's settings and member output types, as declared (no servers)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from pydantic import BaseModel

from sfpserver.hatchet import EmptyModel
from sfpserver.hatchet.batch import BatchMemberId, BatchSettings, member_adapter, settings


class Out(BaseModel):
    n: int


@pytest.mark.parametrize(
    ("interval", "seconds"),
    [(timedelta(milliseconds=200), 0.2), (timedelta(seconds=2), 2.0), ("150ms", 0.15), (None, None)],
)
def test_the_flush_interval_keeps_its_milliseconds(interval: Any, seconds: float | None) -> None:
    assert settings(3, interval, None, None, False).interval == seconds


def test_the_engine_gets_the_settings_it_decides_with() -> None:
    found = settings(5, timedelta(seconds=1), "input.group", 2, True)
    assert (found, found.to_engine()) == (
        BatchSettings(5, 1.0, "input.group", 2, True),
        {"max_size": 5, "interval": 1.0, "group_key": "input.group", "max_runs": 2},
    )


@pytest.mark.parametrize(
    ("size", "runs", "message"),
    [
        (0, None, "batch_max_size must be a whole number >= 1, got 0"),
        (True, None, "batch_max_size must be a whole number >= 1, got True"),
        (2, 0, "batch_group_max_runs must be a whole number >= 1, got 0"),
    ],
)
def test_a_bad_size_or_limit_is_refused_naming_it(size: Any, runs: Any, message: str) -> None:
    with pytest.raises(ValueError) as refused:
        settings(size, None, None, runs, False)
    assert str(refused.value) == message


def per_member(tasks: dict[BatchMemberId, Any], ctx: Any) -> dict[BatchMemberId, Out]:
    return {}


def shared(tasks: dict[BatchMemberId, Any], ctx: Any) -> Out:
    return Out(n=1)


def nothing(tasks: dict[BatchMemberId, Any], ctx: Any) -> None:
    return None


def test_each_member_output_is_validated_as_one_value_of_the_returned_dict() -> None:
    adapter = member_adapter(per_member, broadcast=False)
    assert adapter is not None and adapter.validate_python({"n": 2}) == Out(n=2)


def test_a_broadcast_output_is_validated_as_the_return_type() -> None:
    adapter = member_adapter(shared, broadcast=True)
    assert adapter is not None and adapter.validate_python({"n": 3}) == Out(n=3)


def test_a_function_returning_none_gives_each_member_an_empty_model() -> None:
    adapter = member_adapter(nothing, broadcast=True)
    assert adapter is not None and isinstance(adapter.validate_python({}), EmptyModel)
