"""The sfp CLI cannot read the worker: a step's "CLI" (a script run as SFP_BIN through the runner, like any sfp
command) tries to read its parent's and the worker's /proc environ, the vault keys (variable and local key
file), the database URL, the Django secret key, a sibling step's workspace and the list of workspaces, and
finds nothing. As root (here and in CI) the CLI runs as a slot user of its own; as another user only what
non-dumpable workers and the allow-listed environment guarantee is asserted."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.test import override_settings

from sfpserver.engine.models import Worker
from sfpserver.vault import keys
from tasks.sfp.workspace import work_dir
from tests import conftest
from tests.conftest import ROOT, Processes, wait_until
from tests.engine.helpers import steps
from tests.tasks.conftest import output, run
from tests.tasks.workflows import PROBE_QUEUE

PROBE = Path(__file__).with_name("cli_probe.sh")
ALWAYS_EMPTY = {
    "parent_environ",
    "worker_environ",
    "worker_memory_maps",
    "vault_keys_variable",
    "database_url_variable",
    "secret_key_variable",
}
EMPTY_AS_ROOT = {"supervisor_environ", "vault_key_file", "sibling_home", "sibling_private", "workspaces_listing"}


@dataclass
class ProbeNode:
    secret_key: str
    vault_key_file: Path

    def canaries(self) -> dict[str, str]:
        return {
            "VAULT_KEYS": os.environ["VAULT_KEYS"].split(":", 1)[1],
            "DATABASE_URL": conftest.test_database_url(),
            "DJANGO_SECRET_KEY": self.secret_key,
            "local vault key": self.vault_key_file.read_text().strip().split(":", 1)[1],
        }


@pytest.fixture
def probe_node(platform: Processes) -> Iterator[ProbeNode]:
    """A worker node whose sfp CLI is the probe, with a secret key and a generated local vault key file."""
    folder = Path(work_dir()) / f"probe-bin-{uuid.uuid4().hex[:8]}"  # where any CLI user can run it from
    folder.mkdir(mode=0o755)
    shutil.copyfile(PROBE, folder / "sfp")
    (folder / "sfp").chmod(0o755)
    key_file = ROOT / ".local" / "test" / f"vault-{uuid.uuid4().hex[:8]}.key"
    with override_settings(VAULT_KEYS="", VAULT_LOCAL_KEY_FILE=key_file):
        keys.keyring()  # the platform's own code writes the local key, with the mode it gives it
    node = ProbeNode(f"probe-secret-{uuid.uuid4().hex}", key_file)
    env = {"SFP_BIN": str(folder / "sfp"), "DJANGO_SECRET_KEY": node.secret_key, "VAULT_LOCAL_KEY_FILE": str(key_file)}
    platform.start_node("cli-probe-node", PROBE_QUEUE, concurrency=1, **env)
    try:
        wait_until(lambda: Worker.objects.filter(name="cli-probe-node", status="ACTIVE").exists(), timeout=60)
        yield node
    finally:
        platform.stop("cli-probe-node")
        shutil.rmtree(folder, ignore_errors=True)
        key_file.unlink(missing_ok=True)


def attempts(lines: list[str]) -> dict[str, str]:
    """What the probe read, by attempt (`probe <name> <length> <content>`)."""
    found = {}
    for line in lines:
        if line.startswith("probe "):
            _, name, length, *content = line.split(" ", 3)
            found[name] = content[0].strip() if content and int(length) else ""
    return found


def test_the_cli_finds_nothing_of_the_worker_the_keys_nor_another_step(probe_node: ProbeNode) -> None:
    sibling_canary = f"sibling-{uuid.uuid4().hex}"
    done = run("t-sfp-cli-probe", {"canary": sibling_canary, "vault_key_file": str(probe_node.vault_key_file)})
    assert done.status == "COMPLETED", steps(done.id)["probe"].error
    result = output(done.id, "probe")
    found = attempts(result["lines"])

    as_root = os.geteuid() == 0
    must_be_empty = ALWAYS_EMPTY | (EMPTY_AS_ROOT if as_root else set())
    assert set(found) == ALWAYS_EMPTY | EMPTY_AS_ROOT | {"own_environment"}  # every attempt was made
    assert result["as_own_user"] is as_root
    assert {name: found[name] for name in must_be_empty} == dict.fromkeys(must_be_empty, "")
    assert "HOME=" in found["own_environment"]  # it could read what is its own
    everything = "\n".join(result["lines"])
    canaries = {**probe_node.canaries(), "sibling": sibling_canary}
    leaked = [name for name, value in canaries.items() if value in everything]
    assert leaked == [], "\n".join(result["lines"])
