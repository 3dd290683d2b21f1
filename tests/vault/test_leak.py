"""Leak check on real workers: steps lease unique canary secrets and print them every careless way (logs,
stream, progress, errors with tracebacks, outputs, a retry); afterwards no table of the database and no
Redis key holds any canary, in any of the forms searched. Missing and undeclared credentials fail their
step at once, naming the credential."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable
from urllib.parse import quote
from uuid import uuid4

import pytest
import redis
from django.conf import settings
from django.db import connection

from sfpserver.engine import events
from sfpserver.engine.models import EventKind, RunEvent, WorkflowRun
from sfpserver.engine.trigger import trigger
from sfpserver.vault import services
from sfpserver.vault.models import CredentialAudit
from tests.conftest import Processes
from tests.engine.helpers import attempts, executions, steps, wait_for_run
from tests.vault import workflows

pytestmark = pytest.mark.usefixtures("platform")


class Canaries:
    def __init__(self) -> None:
        self.client_secret = uuid4().hex.upper()
        self.refresh = f"5Aep861.{uuid4().hex}"
        self.token = f"tok/{uuid4().hex}+=&"
        self.url = f"force://PlatformCLI:{self.client_secret}:{self.refresh}@acme.my.salesforce.com"

    def needles(self) -> list[str]:
        """What would show a leak: each secret's unique core (survives URL/JSON/repr escaping) and base64."""
        cores = [self.client_secret, self.refresh.split(".", 1)[1], self.token[4:36]]
        basic = base64.b64encode(f"x-access-token:{self.token}".encode()).decode()
        return [*cores, self.url, quote(self.token, safe=""), basic[24:40]]


@pytest.fixture
def canaries() -> Canaries:
    planted = Canaries()
    services.store(
        "sfdx_auth_url",
        workflows.LEAK_SFDX,
        planted.url,
        metadata={"username": "ci@acme.com", "org_type": "sandbox"},
        actor="leak-test",
    )
    services.store("generic", workflows.LEAK_TOKEN, planted.token, actor="leak-test")
    return planted


def database_hits(needles: Iterable[str]) -> dict[str, list[str]]:
    """Every table of the database, every column of every row as text: which needles occur where."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename")
        tables = [row[0] for row in cursor.fetchall()]
        hits: dict[str, list[str]] = {}
        for needle in needles:
            for table in tables:
                cursor.execute(f'SELECT count(*) FROM "{table}" t WHERE strpos(t::text, %s) > 0', [needle])
                if cursor.fetchone()[0]:
                    hits.setdefault(needle, []).append(table)
    return hits


def redis_hits(needles: list[str]) -> list[str]:
    client = redis.Redis.from_url(settings.REDIS_URL)
    found = []
    for key in client.scan_iter(count=500):
        text = repr(_redis_value(client, key))
        found += [f"{key!r}: {needle}" for needle in needles if needle in text]
    return found


def _redis_value(client: redis.Redis, key: bytes) -> object:
    kind = client.type(key)
    kind = kind.decode() if isinstance(kind, bytes) else kind
    readers = {
        "string": client.get,
        "list": lambda k: client.lrange(k, 0, -1),
        "hash": client.hgetall,
        "set": client.smembers,
        "zset": lambda k: client.zrange(k, 0, -1),
        "stream": lambda k: client.xrange(k),
    }
    return readers.get(kind, lambda k: None)(key)


def test_the_search_finds_a_planted_value() -> None:
    """The leak check below would see a leak: the same search finds a value deliberately stored."""
    run = WorkflowRun.objects.create(workflow_name="tv.control")
    control = f"control-{uuid4().hex}"
    events.record(run.id, None, None, EventKind.LOG, f"planted {control}")
    assert database_hits([control]) == {control: ["engine_runevent"]}


def test_leased_canaries_appear_nowhere_in_the_database_or_redis(platform: Processes, canaries: Canaries) -> None:
    run_id = trigger("tv.leak")
    run = wait_for_run(run_id, timeout=60)
    assert run.status == "FAILED"
    by_name = steps(run_id)
    spill, explode = by_name["spill"], by_name["explode"]
    digests = [hashlib.sha256(value.encode()).hexdigest() for value in (canaries.url, canaries.token)]
    assert spill.output == {"token": "***", "nested": [{"auth": "***"}], "***": "as a key", "digests": digests}
    messages = list(RunEvent.objects.filter(step=spill).order_by("id").values_list("kind", "message"))
    assert ("LOG", "logging in with ***") in messages
    assert ("LOG", "refresh token *** and client secret ***") in messages
    assert ("STREAM", "GET /?token=*** HTTP/1.1\n") in messages
    assert ("PROGRESS", "halfway with ***") in messages
    assert executions(run_id, "explode") == 2
    assert [a["outcome"] for a in attempts(explode)] == ["FAILED", "FAILED"]
    assert explode.error == "deploy failed for *** with token '***' (***)"
    assert run.error and "***" in run.error
    assert services.describe(workflows.LEAK_TOKEN)["last_used_at"] is not None
    granted = CredentialAudit.objects.filter(run_id=run_id, granted=True).values_list("credential_names", flat=True)
    assert sorted(len(names) for names in granted) == [2, 2, 2]  # 3 attempts, one row each naming both

    assert database_hits(canaries.needles()) == {}
    assert redis_hits(canaries.needles()) == []


def test_a_missing_credential_fails_the_step_at_once_naming_it(platform: Processes) -> None:
    run_id = trigger("tv.missing")
    run = wait_for_run(run_id)
    assert run.status == "FAILED"
    step = steps(run_id)["lease"]
    assert (step.error_type, step.error) == (
        "CredentialMissing",
        f"credential {workflows.NEVER_STORED!r} does not exist in the vault",
    )
    assert executions(run_id, "lease") == 1  # retries=3, none used


def test_asking_for_an_undeclared_credential_fails_the_step_and_is_audited(
    platform: Processes, canaries: Canaries
) -> None:
    run_id = trigger("tv.undeclared")
    run = wait_for_run(run_id)
    assert run.status == "FAILED"
    step = steps(run_id)["lease"]
    assert step.error_type == "LeaseRefused"
    assert step.error == (
        f"credential lease refused: step 'lease' did not declare credential(s) {workflows.LEAK_TOKEN!r} "
        "in its args['credentials']"
    )
    assert executions(run_id, "lease") == 1
    audit = CredentialAudit.objects.get(step_id=step.id)
    assert (audit.granted, audit.credential_names, audit.worker_id) == (False, [workflows.LEAK_TOKEN], step.worker_id)
    assert audit.actor.startswith("worker:standard-")
