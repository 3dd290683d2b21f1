"""What the dashboard's demo button starts, through the REST API (POST /sfp/api/tasks).

Switching the demo to the sfp release pipeline is this one line: once its task type is in
sfpserver/submissions/task_types.py, put its type and sample input here.
"""

from __future__ import annotations

from typing import Any

DEMO_TASK: dict[str, Any] = {"type": "demo", "data": {"repository": "demo"}, "metadata": {"started_from": "dashboard"}}


def org_configured() -> bool:
    """Whether the vault holds a Salesforce org; without one, the dashboard offers the demo up front."""
    from sfpserver.vault.models import Credential, CredentialKind

    return Credential.objects.filter(kind=CredentialKind.SFDX_AUTH_URL).exists()
