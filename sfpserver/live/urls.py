from __future__ import annotations

from django.urls import path

from sfpserver.live import views

app_name = "live"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("runs/<uuid:run_id>", views.dashboard, name="run"),
    path("queues", views.QueuesView.as_view(), name="queues"),
]
