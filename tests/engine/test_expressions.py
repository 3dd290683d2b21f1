"""The CEL subset (pure logic, no servers): what event filters and webhooks add to what concurrency keys and
rate limits used, and what stays refused."""

from __future__ import annotations

from typing import Any

import pytest

from sfpserver.engine.exceptions import InvalidWorkflowError
from sfpserver.engine.expressions import check, evaluate

ENV: dict[str, Any] = {
    "input": {"ref": "refs/heads/main", "should_skip": False, "tags": ["a", "b"], "n": 3},
    "headers": {"x-github-event": "push"},
    "payload": {"k": "v"},
    "event_key": "github:push",
}


@pytest.mark.parametrize(
    ("expression", "value"),
    [
        ("input.should_skip == false && payload.k == 'v'", True),
        ("'github:' + headers['x-github-event']", "github:push"),
        ("input.ref.startsWith('refs/heads/')", True),
        ("input.ref.endsWith('/main') && event_key.contains(':')", True),
        ("'b' in input.tags && !('c' in input.tags)", True),
        ("input.ref in ['refs/heads/main', 'refs/heads/release']", True),
        ("size(input.tags) == 2 && has(payload.k) && !has(payload.missing)", True),
        ("input.n > 2 ? 'big' : 'small'", "big"),
        ("null == null", True),
        ("1 == 1", True),
    ],
)
def test_the_subset_evaluates(expression: str, value: Any) -> None:
    assert evaluate(expression, ENV, field="f") == value


@pytest.mark.parametrize(
    ("expression", "problem"),
    [
        ("input.ref.lower()", "unsupported function in expression 'input.ref.lower()'"),
        ("input.n.startsWith('x')", "\"input.n.startsWith('x')\": startsWith() wants strings"),
        ("input.missing", "'input.missing': no value for 'missing'"),
        ("[x for x in input.tags]", "unsupported construct in expression '[x for x in input.tags]'"),
    ],
)
def test_what_the_subset_lacks_is_refused_naming_the_expression(expression: str, problem: str) -> None:
    with pytest.raises(InvalidWorkflowError) as caught:
        evaluate(expression, ENV, field="f")
    assert (caught.value.field, caught.value.problem) == ("f", problem)


def test_check_refuses_an_unknown_variable_before_anything_is_stored() -> None:
    check("has(input.a) && size(headers) > 0", ["input", "headers"], field="f")
    with pytest.raises(InvalidWorkflowError) as caught:
        check("secrets.token == 'x'", ["input", "headers"], field="f")
    assert caught.value.problem == "unknown variable 'secrets' in \"secrets.token == 'x'\" (known: headers, input)"
