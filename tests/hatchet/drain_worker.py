"""A second SDK worker for the graceful-shutdown test: one slow workflow and a lifespan with a teardown."""

from __future__ import annotations

import os
import time
from collections.abc import AsyncGenerator
from datetime import timedelta
from pathlib import Path

from sfpserver.hatchet import Context, EmptyModel, Hatchet

hatchet = Hatchet()
MARKER = Path(os.environ.get("DRAIN_MARKER", "/tmp/drain-marker"))


@hatchet.task(name="SdkDrainSlow", execution_timeout=timedelta(seconds=60))
def slow(input: EmptyModel, ctx: Context) -> dict[str, object]:
    time.sleep(3)
    return {"worker": ctx.worker_id, "retry_count": ctx.retry_count, "lifespan": ctx.lifespan}


async def lifespan() -> AsyncGenerator[str, None]:
    yield "opened"
    MARKER.write_text("torn down")


if __name__ == "__main__":
    hatchet.worker("sdk-drain-worker", slots=2, workflows=[slow], lifespan=lifespan).start()
