"""The worker process of tests/hatchet/test_names_live.py, started as a Hatchet user starts one."""

from __future__ import annotations

from tests.hatchet.names_workflows import ALL, hatchet


def main() -> None:
    hatchet.worker("names-test-worker", slots=8, workflows=ALL).start()


if __name__ == "__main__":
    main()
