"""The worker process of the SDK tests, started exactly as a Hatchet user starts one."""

from __future__ import annotations

from collections.abc import AsyncGenerator

from tests.hatchet.feature_workflows import FEATURES
from tests.hatchet.workflows import ALL, hatchet


async def lifespan() -> AsyncGenerator[dict[str, str], None]:
    yield {"resource": "ready"}


def main() -> None:
    worker = hatchet.worker("sdk-test-worker", slots=8, workflows=[*ALL, *FEATURES], lifespan=lifespan)
    worker.start()


if __name__ == "__main__":
    main()
