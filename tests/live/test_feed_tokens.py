"""Open sockets follow their token, and the token never travels in the WebSocket's URL: it comes as the
subprotocol `bearer.<token>` next to `sfp.v1` (what the dashboard sends), and the server answers `sfp.v1`
only. A socket whose token is revoked or expires is closed with 4401 within a few seconds."""

from __future__ import annotations

import asyncio
import socket
import time
import urllib.request
from collections.abc import Iterator
from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync
from django.utils import timezone
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from sfpserver.accounts import tokens
from sfpserver.accounts.models import ApiToken
from sfpserver.live import consumers
from tests.api.conftest import Personas
from tests.conftest import Processes, wait_until
from tests.live import helpers
from tests.live.helpers import Feed, in_thread

pytestmark = pytest.mark.usefixtures("live_db")

CLOSED_WITHIN = 6.0  # seconds: LIVE_TOKEN_RECHECK_SECONDS (2) and then some, on a busy machine


def test_a_revoked_tokens_open_sockets_close_with_4401_within_a_few_seconds(live_personas: Personas) -> None:
    doomed = tokens.issue("doomed dashboard", "member")
    run_id = helpers.start_run()

    async def scenario() -> None:
        feeds = [Feed("/ws/runs/", doomed.secret), Feed(f"/ws/runs/{run_id}/", doomed.secret)]
        bystander = Feed("/ws/runs/", live_personas.member.secret)
        for feed in (*feeds, bystander):
            assert await feed.connect() == (True, None)
            assert (await feed.next())["type"] == "snapshot"
        await in_thread(tokens.revoke)(doomed.token)
        started = time.monotonic()
        for feed in feeds:
            assert await feed.communicator.receive_close(timeout=CLOSED_WITHIN) == consumers.UNAUTHORIZED
            await feed.close()  # the client's side of the closing handshake
        assert time.monotonic() - started < CLOSED_WITHIN
        await bystander.communicator.send_input({"type": "websocket.receive", "text": '{"type": "ping"}'})
        await bystander.until(lambda m: m["type"] == "pong", timeout=5)  # another token's socket stays open
        await bystander.close()

    async_to_sync(scenario)()


def test_an_expired_tokens_open_socket_closes_with_4401(live_personas: Personas) -> None:
    brief = tokens.issue("brief dashboard", "member")
    ApiToken.objects.filter(id=brief.token.id).update(expires_at=timezone.now() + timedelta(seconds=3))

    async def scenario() -> None:
        feed = Feed("/ws/runs/", brief.secret)
        assert await feed.connect() == (True, None)
        assert (await feed.next())["type"] == "snapshot"
        assert await feed.communicator.receive_close(timeout=3 + CLOSED_WITHIN) == consumers.UNAUTHORIZED
        await feed.close()

    async_to_sync(scenario)()


def test_a_token_in_the_query_string_is_refused_even_when_valid(live_personas: Personas) -> None:
    secret = live_personas.owner.secret

    async def scenario() -> None:
        for url, token in ((f"/ws/runs/?token={secret}", None), (f"/ws/runs/?token={secret}", secret)):
            assert await Feed(url, token).connect() == (False, consumers.UNAUTHORIZED), url

    async_to_sync(scenario)()


def test_the_answer_echoes_sfp_v1_and_never_the_token(live_personas: Personas) -> None:
    secret = live_personas.member.secret

    async def scenario() -> None:
        offers: list[tuple[list[str], list[tuple[bytes, bytes]], str | None]] = [
            (["sfp.v1", f"bearer.{secret}"], [], "sfp.v1"),
            ([f"bearer.{secret}", "sfp.v1"], [], "sfp.v1"),
            ([f"bearer.{secret}"], [], None),
            ([], [(b"authorization", f"Bearer {secret}".encode())], None),
            (["sfp.v1"], [(b"authorization", f"Bearer {secret}".encode())], "sfp.v1"),
        ]
        for subprotocols, headers, answer in offers:
            feed = Feed("/ws/runs/", headers=headers, subprotocols=subprotocols)
            assert await feed.connect() == (True, None), subprotocols
            assert feed.subprotocol == answer
            assert (await feed.next())["type"] == "snapshot"
            await feed.close()
        for refused in (["sfp.v1"], ["sfp.v1", "bearer.", "bearer.sfp_0_x"], ["sfp.v1", f"bearer.{secret}x"]):
            assert await Feed("/ws/runs/", subprotocols=refused).connect() == (False, consumers.UNAUTHORIZED)
        two = ["sfp.v1", f"bearer.{secret}", f"bearer.{secret}"]  # one token per handshake, not a list to try
        assert await Feed("/ws/runs/", subprotocols=two).connect() == (False, consumers.UNAUTHORIZED)

    async_to_sync(scenario)()


# --- the same over a real uvicorn, with a WebSocket client that speaks the wire protocol ---------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return bool(response.status == 200)
    except OSError:
        return False


@pytest.fixture
def api_server(live_db: None) -> Iterator[str]:
    """`python -m workers api` (uvicorn) on a free loopback port: another process than the one revoking."""
    procs = Processes()
    port = _free_port()
    procs.start("api-for-tokens", "api", "--host", "127.0.0.1", "--port", str(port))
    try:
        wait_until(lambda: _answers(f"http://127.0.0.1:{port}/sfp/api/ping"), timeout=60, what="uvicorn to answer")
        yield f"ws://127.0.0.1:{port}"
    finally:
        procs.stop_all()


def test_over_uvicorn_a_socket_opened_with_the_subprotocol_closes_4401_when_its_token_is_revoked(
    api_server: str,
) -> None:
    issued = tokens.issue("uvicorn dashboard", "member")

    async def scenario() -> None:
        offer = [Subprotocol("sfp.v1"), Subprotocol(f"bearer.{issued.secret}")]
        async with connect(f"{api_server}/ws/runs/", subprotocols=offer) as ws:
            assert ws.subprotocol == "sfp.v1"
            assert '"snapshot"' in str(await ws.recv())
            await in_thread(tokens.revoke)(issued.token)
            with pytest.raises(ConnectionClosed) as closed:
                async with asyncio.timeout(CLOSED_WITHIN):
                    while True:
                        await ws.recv()  # other runs' updates may come first; the close must come in time
            assert closed.value.rcvd is not None and closed.value.rcvd.code == consumers.UNAUTHORIZED

    async_to_sync(scenario)()
