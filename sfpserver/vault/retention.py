"""The credential audit is kept VAULT_AUDIT_RETENTION_DAYS (longer than runs, ENGINE_RETENTION_DAYS: it is the
record of who touched which secret). Older rows are deleted in batches of BATCH, oldest first, whenever the
engine's scheduler leader prunes (engine/signals.py: retention_due); the engine knows nothing of the vault.
One call deletes at most MAX_BATCHES batches, so a backlog (retention shortened, pruning long off) is worked
off over several calls instead of holding up the scheduler's tick.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from sfpserver.vault.models import CredentialAudit

logger = logging.getLogger(__name__)

BATCH = 1000
MAX_BATCHES = 50


def prune_audit(batch: int = BATCH, max_batches: int = MAX_BATCHES) -> int:
    """Delete the audit rows older than the retention period, oldest first; the number deleted."""
    cutoff = timezone.now() - timedelta(days=settings.VAULT_AUDIT_RETENTION_DAYS)
    deleted = 0
    for _ in range(max_batches):
        ids = list(
            CredentialAudit.objects.filter(created_at__lt=cutoff)
            .order_by("created_at")
            .values_list("id", flat=True)[:batch]
        )
        if not ids:
            break
        deleted += CredentialAudit.objects.filter(id__in=ids).delete()[0]
    if deleted:
        logger.info("pruned %d credential audit rows", deleted, extra={"cutoff": cutoff.isoformat()})
    return deleted


def on_retention_due(sender: Any, **kwargs: Any) -> None:
    prune_audit()
