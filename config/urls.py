from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from sfpserver.api.views.webhooks import HatchetWebhookDeliveryView
from sfpserver.monitoring.views import metrics

urlpatterns = [
    path("admin/", admin.site.urls),
    path("sfp/api/", include("sfpserver.api.urls")),
    path("dashboard/", include("sfpserver.live.urls")),
    path("", RedirectView.as_view(url="/dashboard/", permanent=False)),
    path("metrics", metrics, name="metrics"),
    # Hatchet's delivery address, so that a webhook configured for Hatchet posts here unchanged.
    path(
        "api/v1/stable/tenants/<str:tenant>/webhooks/<str:name>",
        HatchetWebhookDeliveryView.as_view(),
        name="hatchet-webhook-deliveries",
    ),
]
