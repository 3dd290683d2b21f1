"""Everything under /sfp/api/. Credentials (`/sfp/api/credentials`, write-only) and the workers' credential
lease endpoint belong to the vault (sfpserver/vault) and plug in here, guarded by
Capability.MANAGE_CREDENTIALS and Capability.WORKER_ENDPOINTS."""

from __future__ import annotations

from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from sfpserver.api.views import credentials, health, index, runs, schedules, tasks, webhooks, workers, workflows

app_name = "api"

urlpatterns = [
    path("", index.ApiIndexView.as_view(), name="index"),
    path("ping", health.PingView.as_view(), name="ping"),
    path("ready", health.ReadinessView.as_view(), name="ready"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
    path("redoc/", SpectacularRedocView.as_view(url_name="api:schema", template_name="api/redoc.html"), name="redoc"),
    path("tasks", tasks.TasksView.as_view(), name="tasks"),
    path("tasks/<uuid:operation_id>", tasks.TaskView.as_view(), name="task"),
    path("tasks/<uuid:operation_id>/status", tasks.TaskStatusView.as_view(), name="task-status"),
    path("tasks/<uuid:operation_id>/result", tasks.TaskResultView.as_view(), name="task-result"),
    path("tasks/<uuid:operation_id>/stop-recurring", tasks.StopRecurringView.as_view(), name="task-stop-recurring"),
    path(
        "tasks/<uuid:operation_id>/recurring-instances",
        tasks.RecurringInstancesView.as_view(),
        name="task-recurring-instances",
    ),
    path("runs", runs.RunListView.as_view(), name="runs"),
    path("runs/<uuid:run_id>", runs.RunDetailView.as_view(), name="run"),
    path("runs/<uuid:run_id>/events", runs.RunEventsView.as_view(), name="run-events"),
    path("runs/<uuid:run_id>/cancel", runs.RunCancelView.as_view(), name="run-cancel"),
    path("runs/<uuid:run_id>/retry-failed", runs.RunRetryFailedView.as_view(), name="run-retry-failed"),
    path("runs/<uuid:run_id>/approval", runs.RunApprovalView.as_view(), name="run-approval"),
    path("runs/<uuid:run_id>/steps/<uuid:step_id>/replay", runs.StepReplayView.as_view(), name="step-replay"),
    path("workers", workers.WorkerListView.as_view(), name="workers"),
    path("workflows/<str:workflow>/pause", workflows.WorkflowPauseView.as_view(), name="workflow-pause"),
    path("workflows/<str:workflow>/unpause", workflows.WorkflowUnpauseView.as_view(), name="workflow-unpause"),
    path("schedules", schedules.ScheduleListView.as_view(), name="schedules"),
    path("schedules/<int:schedule_id>", schedules.ScheduleDetailView.as_view(), name="schedule"),
    path("credentials", credentials.CredentialListView.as_view(), name="credentials"),
    path("credentials/<str:name>", credentials.CredentialDetailView.as_view(), name="credential"),
    path("internal/leases", credentials.LeaseView.as_view(), name="leases"),
    path("webhooks", webhooks.WebhookListView.as_view(), name="webhooks"),
    path("webhooks/<str:name>", webhooks.WebhookDetailView.as_view(), name="webhook"),
    path("webhooks/<str:name>/deliveries", webhooks.WebhookDeliveryView.as_view(), name="webhook-deliveries"),
    # Any other path, even one holding a newline: its other spelling (trailing slash) redirects, else 404.
    re_path(r"^[\s\S]*$", index.other_spelling),
]
