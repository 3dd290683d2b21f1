"""What Postgres cannot store, found before anything is written, with the path of the value at fault.

A value (parsed JSON, or what a workflow is triggered with) for which `first_unstorable` answers None can be
written to a jsonb or text column and read back unchanged. The three things it catches are what would
otherwise surface as a psycopg error, an HTTP 500: a NUL character in a string (jsonb and text refuse it),
a lone UTF-16 surrogate in a string (not valid UTF-8; `"\\ud800"` escaped in JSON text decodes to one), and a
float that is not finite (NaN, ±Infinity, or a literal like `1e400` that overflows to infinity). Keys are
checked like values. Paths are dotted from `root` (`data.repository`, `data.items.0`); the characters at
fault are written as `\\uXXXX` escapes in both the path and the problem, so that the answer can be encoded.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from typing import Any

Problem = tuple[str, str]  # (path, what is wrong)

_UNSTORABLE_CHAR = re.compile("[\x00\ud800-\udfff]")


def first_unstorable(value: Any, root: str) -> Problem | None:
    """The first (in document order) value or key under `value` that cannot be stored, or None."""
    return next(_problems(value, root), None)


def printable(text: str) -> str:
    """`text` with NUL and lone surrogates written as `\\uXXXX` escapes."""
    return _UNSTORABLE_CHAR.sub(lambda found: _escaped(found.group()), text)


def _problems(value: Any, root: str) -> Iterator[Problem]:
    stack: list[tuple[Any, str]] = [(value, root)]
    while stack:
        item, path = stack.pop()
        if isinstance(item, dict):
            for key in item:
                problem = _string_problem(key) if isinstance(key, str) else None
                if problem is not None:
                    yield _join(path, key), f"the key {problem}"
            stack.extend(reversed([(child, _join(path, key)) for key, child in item.items()]))
        elif isinstance(item, (list, tuple)):
            stack.extend(reversed([(child, _join(path, index)) for index, child in enumerate(item)]))
        else:
            problem = _scalar_problem(item)
            if problem is not None:
                yield path, problem


def _join(path: str, key: object) -> str:
    name = printable(key) if isinstance(key, str) else str(key)
    return f"{path}.{name}" if path else name


def _scalar_problem(item: Any) -> str | None:
    if isinstance(item, str):
        return _string_problem(item)
    if isinstance(item, float) and math.isnan(item):
        return "is NaN, which cannot be stored"
    if isinstance(item, float) and math.isinf(item):
        return "is infinite (Infinity, or a number past ±1.8e308 such as 1e400), which cannot be stored"
    return None


def _string_problem(text: str) -> str | None:
    found = _UNSTORABLE_CHAR.search(text)
    if found is None:
        return None
    if found.group() == "\x00":
        return "contains a NUL character (\\u0000), which cannot be stored"
    return f"contains a lone surrogate ({_escaped(found.group())}), which cannot be stored"


def _escaped(char: str) -> str:
    return f"\\u{ord(char):04x}"
