from django.contrib import admin
from django.urls import path

from sfpserver.monitoring.views import metrics

urlpatterns = [
    path("admin/", admin.site.urls),
    path("metrics", metrics, name="metrics"),
]
