"""The live feed through the real ASGI app: who may connect, what a late client gets first, and the live
changes that follow with no gap and no duplicate. Runs are moved by hand (their steps go to a queue no
worker serves); tests/live/test_feed_workers.py watches real workers."""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.contrib.auth.models import User
from django.test import Client

from sfpserver.accounts import tokens
from sfpserver.live import consumers
from sfpserver.live.viewers import Viewer
from tests.api.conftest import Personas
from tests.live import helpers
from tests.live.helpers import Feed, in_thread, run_status, steps_of

pytestmark = pytest.mark.usefixtures("live_db")


def test_a_client_that_connects_late_gets_the_current_state_then_every_later_change(
    live_personas: Personas,
) -> None:
    run_id = helpers.start_run()
    helpers.complete(run_id, "checkout")
    helpers.fail(run_id, "build", "transient failure")
    helpers.claim(run_id, "build")
    earlier = [helpers.log(run_id, "build", "fetching dependencies"), helpers.progress(run_id, "build", 40)]
    helpers.flush()

    async def scenario() -> None:
        feed = Feed(f"/ws/runs/{run_id}/", live_personas.member.secret)
        assert (await feed.connect())[0]
        snapshot = await feed.next()
        assert snapshot["type"] == "snapshot"
        assert [e["id"] for e in snapshot["events"]][-2:] == earlier
        assert snapshot["last_event_id"] == earlier[-1]
        run = snapshot["run"]
        assert (run["status"], run["progress"]) == ("RUNNING", 46)  # 1 of 3 steps done, the build 40% along
        build = steps_of(snapshot)["build"]
        assert (build["status"], build["attempt"], build["percent"]) == ("RUNNING", 1, 40.0)
        assert [(a["number"], a["outcome"], a["error_message"]) for a in build["attempts"]] == [
            (0, "FAILED", "transient failure"),
            (1, "RUNNING", ""),
        ]

        later = await in_thread(lambda: helpers.progress(run_id, "build", 80))()
        event = await feed.next()
        assert (event["type"], event["event"]["id"], event["event"]["data"]) == ("event", later, {"percent": 80})
        await in_thread(_finish_build_and_publish)(run_id)
        final = await feed.until(run_status(run_id, "COMPLETED"))
        assert {name: s["status"] for name, s in steps_of(final).items()} == dict.fromkeys(
            ["checkout", "build", "publish"], "COMPLETED"
        )
        assert final["run"]["progress"] == 100
        live_ids = [m["event"]["id"] for m in feed.received if m["type"] == "event"]
        assert live_ids == sorted(set(live_ids)) and not set(live_ids) & set(earlier)
        await feed.close()

    async_to_sync(scenario)()


def _finish_build_and_publish(run_id: Any) -> None:
    helpers.complete_claimed(run_id, "build")
    helpers.complete(run_id, "publish")


def test_an_event_committed_while_the_snapshot_is_read_is_sent_once(
    live_personas: Personas, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_id = helpers.start_run()
    helpers.claim(run_id, "checkout")
    helpers.flush()
    racing: list[int] = []
    read_snapshot = consumers.RunsFeed.snapshot

    def snapshot_after_a_racing_event(self: consumers.RunsFeed) -> dict[str, Any]:
        # The feed has joined its group: this event is both published to it and in the snapshot.
        racing.append(helpers.progress(run_id, "checkout", 50))
        helpers.flush()
        return read_snapshot(self)

    monkeypatch.setattr(consumers.RunsFeed, "snapshot", snapshot_after_a_racing_event)

    async def scenario() -> None:
        feed = Feed(f"/ws/runs/{run_id}/", live_personas.owner.secret)
        assert (await feed.connect())[0]
        snapshot = await feed.next()
        assert [e["id"] for e in snapshot["events"]] == racing
        after = await in_thread(lambda: helpers.log(run_id, "checkout", "cloned"))()
        message = await feed.next()
        assert (message["type"], message["event"]["id"], message["event"]["message"]) == ("event", after, "cloned")
        await feed.close()

    async_to_sync(scenario)()


def test_an_application_sees_only_its_own_runs_on_the_all_runs_feed(live_personas: Personas) -> None:
    app, outsider, member = live_personas.app, live_personas.outsider, live_personas.member
    before = helpers.start_run(owner=app.token)

    async def scenario() -> None:
        feeds = {p.name: Feed("/ws/runs/", p.secret) for p in (app, outsider, member)}
        for feed in feeds.values():
            assert (await feed.connect())[0]
        snapshots = {name: await feed.next() for name, feed in feeds.items()}
        assert str(before) in [r["id"] for r in snapshots[app.name]["runs"]]
        assert str(before) not in [r["id"] for r in snapshots[outsider.name]["runs"]]
        assert str(before) in [r["id"] for r in snapshots[member.name]["runs"]]

        mine = await in_thread(lambda: helpers.start_run(owner=app.token))()
        theirs = await in_thread(lambda: helpers.start_run(owner=outsider.token))()
        await in_thread(lambda: (helpers.claim(mine, "checkout"), helpers.progress(mine, "checkout", 30)))()
        await in_thread(lambda: helpers.complete(theirs, "checkout"))()
        await in_thread(helpers.flush)()

        # Each feed carries the runs changed since its snapshot that its viewer may see, and no other: the
        # publisher may also still be sending changes made just before (`before`, earlier tests' runs).
        seen = {name: _runs_in(await feed.drain()) for name, feed in feeds.items()}
        assert str(mine) in seen[app.name] and str(theirs) not in seen[app.name]
        assert str(theirs) in seen[outsider.name] and str(mine) not in seen[outsider.name]
        assert seen[member.name] >= {str(mine), str(theirs)}
        for persona in (app, outsider):
            assert await in_thread(_not_visible)(persona.name, persona.token, seen[persona.name]) == []
        assert "event" in [m["type"] for m in feeds[app.name].received]  # its progress, on the all-runs feed
        for feed in feeds.values():
            await feed.close()

    async_to_sync(scenario)()


def _not_visible(name: str, token: Any, runs: set[str]) -> list[str]:
    viewer = Viewer(name, token)
    return [run for run in runs if not viewer.can_see(run)]


def _runs_in(messages: list[dict[str, Any]]) -> set[str]:
    live = [m for m in messages if m["type"] != "snapshot"]
    return {m["event"]["run_id"] if m["type"] == "event" else m["run"]["id"] for m in live}


def test_an_outsider_cannot_open_the_feed_of_a_run_it_may_not_see(live_personas: Personas) -> None:
    run_id = helpers.start_run(owner=live_personas.app.token)

    async def scenario() -> None:
        assert await Feed(f"/ws/runs/{run_id}/", live_personas.outsider.secret).connect() == (
            False,
            consumers.NOT_FOUND,
        )
        own = Feed(f"/ws/runs/{run_id}/", live_personas.app.secret)
        assert (await own.connect())[0]
        assert (await own.next())["run"]["id"] == str(run_id)
        await own.close()

    async_to_sync(scenario)()


def test_a_missing_wrong_or_revoked_token_is_refused(live_personas: Personas) -> None:
    revoked = tokens.issue("revoked", "member")
    tokens.revoke(revoked.token)
    wrong = live_personas.member.secret[:-4] + "AAAA"

    async def scenario() -> None:
        for token in (None, "not-a-token", wrong, revoked.secret):
            assert await Feed("/ws/runs/", token).connect() == (False, consumers.UNAUTHORIZED), token

    async_to_sync(scenario)()


def test_a_staff_session_may_watch_from_the_same_origin_only(live_db: None) -> None:
    User.objects.filter(username="live-admin").delete()
    User.objects.create_user("live-admin", password="pw-for-tests", is_staff=True)
    client = Client()
    assert client.login(username="live-admin", password="pw-for-tests")
    cookie = f"sessionid={client.cookies['sessionid'].value}".encode()
    run_id = helpers.start_run()

    def headers(origin: bytes) -> list[tuple[bytes, bytes]]:
        return [(b"cookie", cookie), (b"host", b"127.0.0.1:8000"), (b"origin", origin)]

    async def scenario() -> None:
        same = Feed(f"/ws/runs/{run_id}/", headers=headers(b"http://127.0.0.1:8000"))
        assert (await same.connect())[0]
        assert (await same.next())["run"]["id"] == str(run_id)
        await same.close()
        other = Feed(f"/ws/runs/{run_id}/", headers=headers(b"http://evil.example"))
        assert await other.connect() == (False, consumers.UNAUTHORIZED)

    async_to_sync(scenario)()
