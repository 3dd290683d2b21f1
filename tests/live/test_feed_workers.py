"""The live feed with real worker processes: they publish their steps' changes and progress themselves."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync

from tests.api.conftest import Personas
from tests.api.helpers import operation_id, submit
from tests.live.helpers import Feed, in_thread, run_status, steps_of

pytestmark = pytest.mark.usefixtures("platform")


def test_the_demo_moves_live_on_the_feed_from_queued_through_a_retried_step_to_completed(
    live_personas: Personas,
) -> None:
    member = live_personas.member

    async def scenario() -> None:
        feed = Feed("/ws/runs/", member.secret)
        assert (await feed.connect())[0]
        assert (await feed.next())["type"] == "snapshot"
        response = await in_thread(lambda: submit(member.client, {"type": "demo", "data": {"repository": "sample"}}))()
        run_id = operation_id(response)
        # The state is read when it is published: a worker may already have started the run by then.
        await feed.until(run_status(run_id, "QUEUED", "RUNNING"))
        final = await feed.until(run_status(run_id, "COMPLETED"), timeout=90)
        build = steps_of(final)["build"]
        assert [a["outcome"] for a in build["attempts"]] == ["FAILED", "COMPLETED"]
        assert build["attempts"][0]["error_message"] == "transient failure while fetching dependencies"
        ours = [m for m in feed.received if m["type"] != "snapshot" and _run_of(m) == run_id]
        progress = [m["run"]["progress"] for m in ours if m["type"] in ("run", "step")]
        assert progress[0] == 0 and progress[-1] == 100 and any(0 < p < 100 for p in progress)
        percents = [m["event"]["data"]["percent"] for m in ours if m["type"] == "event"]
        assert {25, 50, 75, 100} <= set(percents)  # each step's progress, as the workers reported it
        await feed.close()

    async_to_sync(scenario)()


def _run_of(message: dict) -> str:
    return message["event"]["run_id"] if message["type"] == "event" else message["run"]["id"]
