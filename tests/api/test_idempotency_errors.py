"""A trigger refused because another run holds its idempotency key answers 409 naming that run, never 500."""

from __future__ import annotations

import uuid

from sfpserver.api.errors import to_error
from sfpserver.engine.services import IdempotencyCollision


def test_an_idempotency_collision_is_a_409_naming_the_run_that_holds_the_key() -> None:
    holder = uuid.uuid4()
    assert to_error(IdempotencyCollision([None], {0: holder})) == (
        409,
        "idempotency_collision",
        {"existing_run_id": str(holder)},
    )
