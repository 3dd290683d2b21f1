"""Plain Celery tasks, as a user writes them, for the durable-canvas tests."""

from __future__ import annotations

import os

from celery import shared_task

MARKERS = os.environ.get("CANVAS_MARKER_DIR", "/tmp")


@shared_task(name="tests.add")
def add(x: int, y: int) -> int:
    return x + y


@shared_task(name="tests.mul")
def mul(x: int, y: int) -> int:
    return x * y


@shared_task(name="tests.xsum")
def xsum(numbers: list[int]) -> int:
    return sum(numbers)


@shared_task(name="tests.fail_once")
def fail_once(x: int, marker: str) -> int:
    """Fails the first time it runs for `marker` (a file records that it did), then returns x."""
    path = os.path.join(MARKERS, f"canvas-{marker}")
    with open(path, "a") as f:
        f.write("ran\n")
    with open(path) as f:
        runs = len(f.readlines())
    if runs == 1:
        raise RuntimeError("first run fails")
    return x
