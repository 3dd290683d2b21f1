"""A WebSocket to a path the live feed does not serve, or to a run id that is not a UUID, is refused with
close code 4404 through the real ASGI app (config.asgi), whoever asks; never the router's "No route found"
error, which an ASGI server answers with an HTTP 500."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync

from sfpserver.live import consumers
from tests.api.conftest import Personas
from tests.live.helpers import Feed

pytestmark = pytest.mark.usefixtures("live_db")

UNSERVED = [
    pytest.param("/ws/nothing/", id="unknown-path"),
    pytest.param("/", id="root"),
    pytest.param("/ws/runs", id="no-trailing-slash"),
    pytest.param("/ws/runs/not-a-uuid/", id="malformed-run-id"),
    pytest.param("/ws/runs/12345/", id="number-as-run-id"),
    pytest.param("/ws/runs/0F0E7E3C-1F2B-4C5D-8E9F-0A1B2C3D4E5F/", id="upper-case-run-id"),
    pytest.param("/ws/runs/00000000-0000-0000-0000-000000000000/extra/", id="beyond-a-run"),
    pytest.param("/ws/runs/%00/", id="escaped-nul"),
    pytest.param("/ws/runs/\x00/", id="nul"),
    pytest.param("/ws/runs/\n/", id="newline"),
]


@pytest.mark.parametrize("path", UNSERVED)
def test_a_socket_to_a_path_the_feed_does_not_serve_is_refused_with_4404(live_personas: Personas, path: str) -> None:
    async def scenario() -> None:
        assert await Feed(path, live_personas.owner.secret).connect() == (False, consumers.NOT_FOUND)
        assert await Feed(path).connect() == (False, consumers.NOT_FOUND)

    async_to_sync(scenario)()


def test_the_served_paths_still_answer(live_personas: Personas) -> None:
    async def scenario() -> None:
        feed = Feed("/ws/runs/", live_personas.owner.secret)
        assert (await feed.connect())[0]
        assert (await feed.next())["type"] == "snapshot"
        await feed.close()
        assert await Feed("/ws/runs/").connect() == (False, consumers.UNAUTHORIZED)

    async_to_sync(scenario)()
