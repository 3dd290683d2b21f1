"""The credential audit is pruned by the engine's retention job, through the engine's retention_due signal
(the engine imports nothing of the vault): rows older than VAULT_AUDIT_RETENTION_DAYS go, in batches, oldest
first; younger rows stay. On real Postgres, committed, as the scheduler leader would see them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.test import override_settings
from django.utils import timezone

from sfpserver.engine import scheduler, signals
from sfpserver.vault import retention
from sfpserver.vault.models import AuditAction, CredentialAudit

pytestmark = pytest.mark.usefixtures("db_access")


@pytest.fixture(autouse=True)
def empty_audit() -> Iterator[None]:
    CredentialAudit.objects.all().delete()
    yield
    CredentialAudit.objects.all().delete()


def audit_rows(name: str, days_ago: float, count: int = 1) -> list[int]:
    rows = CredentialAudit.objects.bulk_create(
        [CredentialAudit(action=AuditAction.LEASE, credential_name=name, actor="worker:ci") for _ in range(count)]
    )
    ids = [row.id for row in rows]
    CredentialAudit.objects.filter(id__in=ids).update(created_at=timezone.now() - timedelta(days=days_ago))
    return ids


def remaining() -> dict[str, int]:
    names = CredentialAudit.objects.values_list("credential_name", flat=True)
    return {name: list(names).count(name) for name in set(names)}


@override_settings(VAULT_AUDIT_RETENTION_DAYS=90, ENGINE_RETENTION_DAYS=30)
def test_the_engines_retention_job_prunes_audit_rows_past_their_own_retention(monkeypatch: Any) -> None:
    audit_rows("older-than-audit-retention", days_ago=91, count=3)
    audit_rows("older-than-run-retention-only", days_ago=45, count=2)
    audit_rows("fresh", days_ago=0)
    monkeypatch.setattr(scheduler, "_last_prune", 0.0)  # due now, as on a new leader's first tick

    scheduler.prune_finished_runs()

    assert remaining() == {"older-than-run-retention-only": 2, "fresh": 1}


@override_settings(VAULT_AUDIT_RETENTION_DAYS=7)
def test_the_retention_period_is_a_setting() -> None:
    audit_rows("eight-days", days_ago=8)
    audit_rows("six-days", days_ago=6)
    scheduler.prune_elsewhere()
    assert remaining() == {"six-days": 1}


@override_settings(VAULT_AUDIT_RETENTION_DAYS=90)
def test_audit_rows_go_in_batches_oldest_first_and_a_call_deletes_a_bounded_number() -> None:
    oldest = audit_rows("oldest", days_ago=300, count=3)
    audit_rows("old", days_ago=200, count=4)
    audit_rows("kept", days_ago=10, count=2)

    assert retention.prune_audit(batch=2, max_batches=2) == 4  # a backlog is worked off over several calls
    assert not CredentialAudit.objects.filter(id__in=oldest).exists()
    assert remaining() == {"old": 3, "kept": 2}
    assert retention.prune_audit(batch=2) == 3
    assert remaining() == {"kept": 2}


@override_settings(VAULT_AUDIT_RETENTION_DAYS=90)
def test_a_retention_receiver_that_fails_before_the_vaults_stops_neither_it_nor_the_scheduler() -> None:
    def broken(sender: Any, **kwargs: Any) -> None:
        raise RuntimeError("another app's pruning failed")

    signals.retention_due.disconnect(dispatch_uid="vault.prune_audit")
    signals.retention_due.connect(broken, dispatch_uid="test.broken", weak=False)
    signals.retention_due.connect(retention.on_retention_due, dispatch_uid="vault.prune_audit")
    try:
        audit_rows("old", days_ago=100)
        scheduler.prune_elsewhere()
    finally:
        signals.retention_due.disconnect(dispatch_uid="test.broken")
    assert remaining() == {}


def test_the_engine_imports_nothing_of_the_vault() -> None:
    from pathlib import Path

    engine = Path(scheduler.__file__).parent
    importing = [p.name for p in engine.rglob("*.py") if "sfpserver.vault" in p.read_text()]
    assert importing == []
