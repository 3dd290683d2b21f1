"""Hatchet's REST models (`hatchet_sdk.clients.rest.models`), one module each as in Hatchet, by name here too.

Names resolve lazily (PEP 562): the read models of runs live in `sfpserver.hatchet.runs`, which needs Django.
"""

from __future__ import annotations

import importlib
from typing import Any

_MODULES = {
    "OtelSpan": "otel_span",
    "OtelSpanKind": "otel_span",
    "OtelStatusCode": "otel_span",
    "ScheduledRunStatus": "scheduled_run_status",
    "V1Event": "v1_event",
    "V1EventList": "v1_event_list",
    "V1EventTriggeredRun": "v1_event",
    "V1EventWorkflowRunSummary": "v1_event",
    "V1LogLine": "v1_log_line",
    "V1LogLineLevel": "v1_log_line_level",
    "V1LogLineList": "v1_log_line_list",
    "V1TaskEvent": "v1_task_event",
    "V1TaskEventType": "v1_task_event_type",
    "V1TaskStatus": "v1_task_status",
    "V1TaskSummary": "v1_task_summary",
    "V1TaskSummaryList": "v1_task_summary_list",
    "V1Webhook": "v1_webhook",
    "V1WebhookAPIKeyAuth": "v1_webhook_api_key_auth",
    "V1WebhookAuthType": "v1_webhook_auth_type",
    "V1WebhookBasicAuth": "v1_webhook_basic_auth",
    "V1WebhookHMACAlgorithm": "v1_webhook_hmac_algorithm",
    "V1WebhookHMACAuth": "v1_webhook_hmac_auth",
    "V1WebhookHMACEncoding": "v1_webhook_hmac_encoding",
    "V1WebhookSourceName": "v1_webhook_source_name",
    "V1WorkflowRun": "v1_workflow_run",
    "V1WorkflowRunDetails": "v1_workflow_run_details",
}

__all__ = sorted(_MODULES)


def __getattr__(name: str) -> Any:
    module = _MODULES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
